/*  chil logic_program backend: open-world decisions over theories given as JSON *data*, a batch of
    theories per call.

    decide_batch_json(+Text, +Milliseconds, -Answer)
      Text is the compact JSON the Python side writes from validated theories:
        {"s": [Name, ...], "b": [Theory, ...]}
        Theory = {"f": [Lit, ...], "r": [[[Lit, ...], Lit], ...], "w": [[Lit, ...], ...], "q": [[World, Lit], ...]}
        Lit = [Sign, Pred, [Arg, ...]]   Sign = 0 (positive) | 1 (strong negation)
        Pred, Arg: an integer; one >= 0 is the name at that index of "s" (every predicate and constant
        of the batch is written once there), one < 0 is a rule's variable (-1, -2, ...: rules only).
      "w" lists the theory's worlds: the extra facts of each (world 0 is the theory alone: []); a
      query asks whether Lit is derivable in world World.
      Answer is a JSON text {"b": [Result, ...]}, one Result per theory, in order:
        {"d": [Bool, ...], "c": [[World, Pred, [Arg, ...]], ...]}: whether each query literal is
        derivable, and the atoms derived with both signs in each world (clashes, by name; at most 10
        per world, in standard order); or {"error": Message} ("time_limit_exceeded" when its time
        limit struck).
      Each theory is decided on its own: its own clauses and tables (nothing else's), its own time
      limit, so one theory's failure or timeout is its result alone.  decide_batch_json/3 always
      succeeds.

    Nothing in Text is ever read as Prolog: it is parsed by the JSON reader, names are only ever
    strings (numbered: the clauses hold integers), and the clauses asserted are
    holds(World, Sign, Pred, Args) facts and rules whose bodies call only holds/4.  They live in the
    module chil_theory, retracted with every table before and after each theory, under tabling (so
    recursive rules terminate) and call_with_time_limit/2.
*/
:- module(chil_decide, [decide_batch_json/3]).

:- use_module(library(http/json)).
:- use_module(library(tables)).
:- use_module(library(time)).
:- use_module(library(apply)).
:- use_module(library(lists)).
:- use_module(library(pairs)).
:- use_module(library(ordsets)).

:- table chil_theory:holds/4.
:- dynamic chil_theory:holds/4.

decide_batch_json(Text, Milliseconds, Answer) :-
    Seconds is Milliseconds / 1000,
    catch(decide_batch(Text, Seconds, Answer), Error, (failure(Error, Term), json_text(Term, Answer))).

decide_batch(Text, Seconds, Answer) :-
    atom_json_term(Text, json(Fields), [value_string_as(string)]),
    memberchk(s=Names, Fields),
    memberchk(b=Theories, Fields),
    NameTable =.. [s|Names],
    maplist(decide_theory(Seconds, NameTable), Theories, Results),
    json_text(json([b=Results]), Answer).

decide_theory(Seconds, NameTable, json(Fields), Result) :-
    catch(decide(Fields, Seconds, NameTable, Result), Error, failure(Error, Result)).

%   Every theory's clauses go into one module, chil_theory, whose holds/4 is dynamic and tabled
%   (declared once: a temporary module with a table/1 directive per theory cost a fifth of the
%   time); before and after each theory its clauses are retracted and every table abolished (the
%   worker process serves this backend alone, nothing else is tabled there), so no theory ever
%   sees another's clauses or answers.
decide(Fields, Seconds, NameTable, Result) :-
    memberchk(f=Facts, Fields),
    memberchk(r=Rules, Fields),
    memberchk(w=Worlds, Fields),
    memberchk(q=Queries, Fields),
    call_with_time_limit(Seconds,
        setup_call_cleanup(clear_theory,
                           ( load(Facts, Rules, Worlds), answer(NameTable, Worlds, Queries, Result) ),
                           clear_theory)).

clear_theory :-
    abolish_all_tables,
    retractall(chil_theory:holds(_, _, _, _)).

%   Errors come back as data: {"error": "time_limit_exceeded"} or {"error": "<message>"}.
failure(time_limit_exceeded, json([error=time_limit_exceeded])) :- !.
failure(Error, json([error=Message])) :-
    message_to_codes(Error, Codes),
    string_codes(Message, Codes).

message_to_codes(Error, Codes) :-
    catch(message_to_codes(Error, [], Codes0), _, fail), !, Codes = Codes0.
message_to_codes(Error, Codes) :-
    format(codes(Codes), "~q", [Error]).

json_text(Term, Text) :-
    with_output_to(string(Text), json_write(current_output, Term, [width(0)])).

%   The theory's facts are asserted in every world (the world number first: indexed), each world's
%   extra facts in that world only; a rule holds in every world: holds(W, ...) :- holds(W, ...), ...
load(Facts, Rules, Worlds) :-
    forall(nth0(W, Worlds, Extra),
           forall(( member(F, Facts) ; member(F, Extra) ),
                  ( literal(F, [], _, holds(S, P, A)), assertz(chil_theory:holds(W, S, P, A)) ))),
    forall(member([Body, Head], Rules), assert_rule(Body, Head)).

assert_rule(BodyLits, HeadLit) :-
    foldl(body_goal(W), BodyLits, Goals, [], Vars),
    literal(HeadLit, Vars, _, holds(S, P, A)),
    list_conj(Goals, Body),
    assertz(chil_theory:(holds(W, S, P, A) :- Body)).

body_goal(W, Lit, holds(W, S, P, A), Vars0, Vars) :-
    literal(Lit, Vars0, Vars, holds(S, P, A)).

list_conj([G], G) :- !.
list_conj([G|Gs], (G, C)) :- list_conj(Gs, C).

%   literal(+JsonLit, +Vars0, -Vars, -holds(Sign, Pred, Args)): Vars maps variable numbers (< 0) to
%   variables; names stay their numbers.
literal([Sign, Pred, Codes], Vars0, Vars, holds(Sign, Pred, Args)) :-
    integer(Sign), integer(Pred), Pred >= 0,
    foldl(term, Codes, Args, Vars0, Vars).

term(N, V, Vars, Vars) :- integer(N), N < 0, memberchk(N-V, Vars), !.
term(N, V, Vars, [N-V|Vars]) :- integer(N), N < 0, !.
term(N, N, Vars, Vars) :- integer(N).

%   Each world's model is tabled once (the call holds(W, _, _, _)) and read as a sorted list of
%   Sign-Pred-Args: the clashes and the queries are looked up in it.
answer(NameTable, Worlds, Queries, json([d=Derivable, c=Clashes])) :-
    length(Worlds, N),
    Last is N - 1,
    findall(W-Model, ( between(0, Last, W), findall(S-P-A, chil_theory:holds(W, S, P, A), Model0), sort(Model0, Model) ), Models),
    findall(Cs, ( member(W-Model, Models), world_clashes(NameTable, W, Model, Cs) ), PerWorld),
    append(PerWorld, Clashes),
    maplist(derivable(Models), Queries, Derivable).

world_clashes(NameTable, W, Model, Clashes) :-
    findall(P-A, member(0-P-A, Model), Pos),
    findall(P-A, member(1-P-A, Model), Neg),
    ord_intersection(Pos, Neg, Both),
    findall([W, PS, ArgsS], ( member(P-Args, Both), name_of(NameTable, P, PS), maplist(name_of(NameTable), Args, ArgsS) ),
            Clashes0),
    sort(Clashes0, Clashes1),
    first_n(10, Clashes1, Clashes).

name_of(NameTable, N, Name) :-
    I is N + 1,
    arg(I, NameTable, Name).

derivable(Models, [W, Lit], Bool) :-
    literal(Lit, [], _, holds(S, P, A)),
    memberchk(W-Model, Models),
    ( ord_memberchk(S-P-A, Model) -> Bool = @(true) ; Bool = @(false) ).

first_n(N, List, Prefix) :-
    length(List, Len),
    ( Len =< N -> Prefix = List ; length(Prefix, N), append(Prefix, _, List) ).
