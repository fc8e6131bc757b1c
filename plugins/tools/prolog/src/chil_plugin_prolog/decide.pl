/*  chil logic_program backend: open-world decisions over a theory given as JSON *data*.

    decide_json(+Text, +Milliseconds, -Answer)
      Text is the compact JSON the Python side writes from a validated theory:
        {"f": [Lit, ...], "r": [[[Lit, ...], Lit], ...], "q": [Lit, ...]}
        Lit = [Sign, Pred, [Arg, ...]]   Sign = "+" | "-"   Arg = "?name" (variable) | constant
      Answer is a JSON text {"d": [Bool, ...], "c": [[Pred, [Arg, ...]], ...]}: whether each query
      literal is derivable, and the atoms derived with both signs (clashes); or {"error": Message}
      ("time_limit_exceeded" when the time limit struck).  decide_json/3 always succeeds.

    Nothing in Text is ever read as Prolog: it is parsed by the JSON reader, every name becomes an
    atom with atom_string/2, and the clauses asserted are holds(Sign, Pred, Args) facts and rules
    whose bodies call only holds/3.  They live in a temporary module (module and tables dropped after each call), under
    tabling (so recursive rules terminate) and call_with_time_limit/2.
*/
:- module(chil_decide, [decide_json/3]).

:- use_module(library(http/json)).
:- use_module(library(modules)).
:- use_module(library(tables)).
:- use_module(library(time)).
:- use_module(library(apply)).
:- use_module(library(lists)).
:- use_module(library(pairs)).

decide_json(Text, Milliseconds, Answer) :-
    Seconds is Milliseconds / 1000,
    catch(decide(Text, Seconds, Answer), Error, failure(Error, Answer)).

%   Tables outlive their temporary module unless abolished: every table is dropped after each call
%   (the worker process serves this backend alone, nothing else is tabled there).
decide(Text, Seconds, Answer) :-
    atom_json_term(Text, json(Fields), [value_string_as(string)]),
    memberchk(f=Facts, Fields),
    memberchk(r=Rules, Fields),
    memberchk(q=Queries, Fields),
    call_with_time_limit(Seconds,
        in_temporary_module(M, load(M, Facts, Rules),
            setup_call_cleanup(true, chil_decide:answer(M, Queries, Answer), abolish_all_tables))).

%   Errors come back as data: {"error": "time_limit_exceeded"} or {"error": "<message>"}.
failure(time_limit_exceeded, Answer) :- !,
    json_text(json([error=time_limit_exceeded]), Answer).
failure(Error, Answer) :-
    message_to_codes(Error, Codes),
    string_codes(Message, Codes),
    json_text(json([error=Message]), Answer).

message_to_codes(Error, Codes) :-
    catch(message_to_codes(Error, [], Codes0), _, fail), !, Codes = Codes0.
message_to_codes(Error, Codes) :-
    format(codes(Codes), "~q", [Error]).

json_text(Term, Text) :-
    with_output_to(string(Text), json_write(current_output, Term, [width(0)])).

load(M, Facts, Rules) :-
    dynamic(M:holds/3),
    table(M:holds/3),
    forall(member(F, Facts), (literal(F, [], _, Head), assertz(M:Head))),
    forall(member([Body, Head], Rules), assert_rule(M, Body, Head)).

assert_rule(M, BodyLits, HeadLit) :-
    foldl(body_goal, BodyLits, Goals, [], Vars),
    literal(HeadLit, Vars, _, Head),
    list_conj(Goals, Body),
    assertz(M:(Head :- Body)).

body_goal(Lit, Goal, Vars0, Vars) :-
    literal(Lit, Vars0, Vars, Goal).

list_conj([G], G) :- !.
list_conj([G|Gs], (G, C)) :- list_conj(Gs, C).

%   literal(+JsonLit, +Vars0, -Vars, -holds(Sign, Pred, Args)): Vars maps "?x" strings to variables.
literal([SignS, PredS, ArgsS], Vars0, Vars, holds(Sign, Pred, Args)) :-
    sign(SignS, Sign),
    atom_string(Pred, PredS),
    foldl(term, ArgsS, Args, Vars0, Vars).

sign("+", pos).
sign("-", neg).

term(S, V, Vars, Vars) :- sub_string(S, 0, 1, _, "?"), memberchk(S-V, Vars), !.
term(S, V, Vars, [S-V|Vars]) :- sub_string(S, 0, 1, _, "?"), !.
term(S, A, Vars, Vars) :- atom_string(A, S).

answer(M, Queries, Answer) :-
    maplist(derivable(M), Queries, Derivable),
    findall([PS, ArgsS], clash(M, PS, ArgsS), Clashes0),
    sort(Clashes0, Clashes1),
    first_n(10, Clashes1, Clashes),
    json_text(json([d=Derivable, c=Clashes]), Answer).

derivable(M, Lit, Bool) :-
    literal(Lit, [], _, Goal),
    ( M:Goal -> Bool = @(true) ; Bool = @(false) ).

clash(M, PS, ArgsS) :-
    M:holds(pos, P, Args),
    M:holds(neg, P, Args),
    atom_string(P, PS),
    maplist([A, S]>>atom_string(A, S), Args, ArgsS).

first_n(N, List, Prefix) :-
    length(List, Len),
    ( Len =< N -> Prefix = List ; length(Prefix, N), append(Prefix, _, List) ).
