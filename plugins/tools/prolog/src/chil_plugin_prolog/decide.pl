/*  chil logic_program backend: open-world decisions over theories given as JSON *data*, a batch of
    theories per call.

    decide_batch_json(+Text, +Milliseconds, -Answer)
      Text is the compact JSON the Python side writes from validated theories:
        {"b": [Theory, ...]}
        Theory = {"f": [Lit, ...], "r": [[[Lit, ...], Lit], ...], "w": [[Lit, ...], ...], "q": [[World, Lit], ...]}
        Lit = [Sign, Pred, [Arg, ...]]   Sign = "+" | "-"   Arg = "?name" (variable) | constant
      "w" lists the theory's worlds: the extra facts of each (world 0 is the theory alone: []); a
      query asks whether Lit is derivable in world World.
      Answer is a JSON text {"b": [Result, ...]}, one Result per theory, in order:
        {"d": [Bool, ...], "c": [[World, Pred, [Arg, ...]], ...]}: whether each query literal is
        derivable, and the atoms derived with both signs in each world (clashes; at most 10 per world,
        in standard order); or {"error": Message} ("time_limit_exceeded" when its time limit struck).
      Each theory is decided on its own: its own temporary module, its own tables, its own time limit,
      so one theory's failure or timeout is its result alone.  decide_batch_json/3 always succeeds.

    Nothing in Text is ever read as Prolog: it is parsed by the JSON reader, every name becomes an
    atom with atom_string/2, and the clauses asserted are holds(World, Sign, Pred, Args) facts and
    rules whose bodies call only holds/4.  They live in a temporary module (module and tables dropped
    after each theory), under tabling (so recursive rules terminate) and call_with_time_limit/2.
*/
:- module(chil_decide, [decide_batch_json/3]).

:- use_module(library(http/json)).
:- use_module(library(modules)).
:- use_module(library(tables)).
:- use_module(library(time)).
:- use_module(library(apply)).
:- use_module(library(lists)).
:- use_module(library(pairs)).
:- use_module(library(ordsets)).

decide_batch_json(Text, Milliseconds, Answer) :-
    Seconds is Milliseconds / 1000,
    catch(decide_batch(Text, Seconds, Answer), Error, (failure(Error, Term), json_text(Term, Answer))).

decide_batch(Text, Seconds, Answer) :-
    atom_json_term(Text, json(Fields), [value_string_as(string)]),
    memberchk(b=Theories, Fields),
    maplist(decide_theory(Seconds), Theories, Results),
    json_text(json([b=Results]), Answer).

decide_theory(Seconds, json(Fields), Result) :-
    catch(decide(Fields, Seconds, Result), Error, failure(Error, Result)).

%   Tables outlive their temporary module unless abolished: every table is dropped after each theory
%   (the worker process serves this backend alone, nothing else is tabled there).
decide(Fields, Seconds, Result) :-
    memberchk(f=Facts, Fields),
    memberchk(r=Rules, Fields),
    memberchk(w=Worlds, Fields),
    memberchk(q=Queries, Fields),
    call_with_time_limit(Seconds,
        in_temporary_module(M, load(M, Facts, Rules, Worlds),
            setup_call_cleanup(true, chil_decide:answer(M, Worlds, Queries, Result), abolish_all_tables))).

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
load(M, Facts, Rules, Worlds) :-
    dynamic(M:holds/4),
    table(M:holds/4),
    forall(nth0(W, Worlds, Extra),
           forall(( member(F, Facts) ; member(F, Extra) ),
                  ( literal(F, [], _, holds(S, P, A)), assertz(M:holds(W, S, P, A)) ))),
    forall(member([Body, Head], Rules), assert_rule(M, Body, Head)).

assert_rule(M, BodyLits, HeadLit) :-
    foldl(body_goal(W), BodyLits, Goals, [], Vars),
    literal(HeadLit, Vars, _, holds(S, P, A)),
    list_conj(Goals, Body),
    assertz(M:(holds(W, S, P, A) :- Body)).

body_goal(W, Lit, holds(W, S, P, A), Vars0, Vars) :-
    literal(Lit, Vars0, Vars, holds(S, P, A)).

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

%   Each world's model is tabled once (the call holds(W, _, _, _)) and read as a sorted list of
%   Sign-Pred-Args: the clashes and the queries are looked up in it.
answer(M, Worlds, Queries, json([d=Derivable, c=Clashes])) :-
    length(Worlds, N),
    Last is N - 1,
    findall(W-Model, ( between(0, Last, W), findall(S-P-A, M:holds(W, S, P, A), Model0), sort(Model0, Model) ), Models),
    findall(Cs, ( member(W-Model, Models), world_clashes(W, Model, Cs) ), PerWorld),
    append(PerWorld, Clashes),
    maplist(derivable(Models), Queries, Derivable).

world_clashes(W, Model, Clashes) :-
    findall(P-A, member(pos-P-A, Model), Pos),
    findall(P-A, member(neg-P-A, Model), Neg),
    ord_intersection(Pos, Neg, Both),
    findall([W, PS, ArgsS], ( member(P-Args, Both), atom_string(P, PS), maplist([X, Str]>>atom_string(X, Str), Args, ArgsS) ),
            Clashes0),
    sort(Clashes0, Clashes1),
    first_n(10, Clashes1, Clashes).

derivable(Models, [W, Lit], Bool) :-
    literal(Lit, [], _, holds(S, P, A)),
    memberchk(W-Model, Models),
    ( ord_memberchk(S-P-A, Model) -> Bool = @(true) ; Bool = @(false) ).

first_n(N, List, Prefix) :-
    length(List, Len),
    ( Len =< N -> Prefix = List ; length(Prefix, N), append(Prefix, _, List) ).
