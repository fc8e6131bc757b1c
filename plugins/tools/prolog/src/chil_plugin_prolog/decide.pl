/*  chil logic_program backend: open-world decisions over theories given as *data*, a batch of
    theories per call.

    decide_batch_terms(+Text, +Milliseconds, -Answer)
      Text holds nothing but integers, commas and square brackets (the Python side writes it from
      validated theories, every predicate and constant replaced by its number; no name is ever in it):
        [Theory, ...]
        Theory = [Stride, Facts, Rules, Worlds, Queries]
        Facts = [Lit, ...]   Rules = [[[Lit, ...], Lit], ...]   Worlds = [[Lit, ...], ...]
        Queries = [[World, Lit], ...]
        Lit = [Key, [Arg, ...]]   Key = 2 * Pred + Sign (Sign 0: positive, 1: strong negation)
        Pred, Arg: integers >= 0 (the theory's predicates are numbered 0 .. Stride/2 - 1); an Arg < 0
        is a rule's variable (-1, -2, ...: rules only).
      Worlds lists the theory's worlds: the extra facts of each (world 0 is the theory alone: []); a
      query asks whether Lit is derivable in world World.
      Answer is a JSON text, one Result per theory, in order:
        [[Derivable, Clashes], ...]   Derivable = [0|1, ...] (one per query)
        Clashes = [[World, Key, [Arg, ...]], ...]: every atom derived with both signs (Key odd: the
        negative one), in each world;
      or, for a theory whose evaluation failed, a string: "time_limit_exceeded" when its time limit
      struck, else the error's message.  Each theory is decided on its own (its own clauses, its own
      time limit), so one theory's failure or timeout is its result alone; a batch whose text cannot
      be read at all answers {"error": Message}.  decide_batch_terms/3 always succeeds.

    decide_batch_terms(+Text, +Milliseconds, +BatchMilliseconds, -Answer)
      The same, the whole batch also bounded: a theory gets at most what is left of
      BatchMilliseconds since the call began (its own limit still applies), and once none is left
      every theory after it answers "time_limit_exceeded" unevaluated.

    Evaluation is bottom-up and semi-naive.  A theory's atoms, of all its worlds at once, are terms
    Key-Args in a trie of its own (Key = World * Stride + 2 * Pred + Sign: one integer; trie_insert/2
    both tests and adds); each rule becomes one clause per body literal i,
        r(Key_i, Args_i, World, Trie, HeadKey, HeadArgs) :- the other body literals looked up in the trie,
    so an atom new in one round fires, in the next, only the rules that have it in their body.  A
    round collects only the atoms it adds; the loop ends when a round adds none (the least model of
    definite clauses over finitely many constants).  A deep chain is one atom a round: linear.

    Nothing in Text is ever read as Prolog code: term_string/2 reads a list of integers; the clauses
    asserted are r/6 clauses whose bodies only compute keys and look them up (trie_gen/2).  They live
    in the module chil_theory and are retracted, and the trie destroyed, before and after each theory
    (also on a timeout), each under its own time limit (call_with_time_limit/2 alone; the theories of a
    batch share one alarm: see limits_start/0) and a bound on the atoms (set_atom_limit/1).
*/
:- module(chil_decide, [decide_batch_terms/3, decide_batch_terms/4, set_atom_limit/1]).

:- use_module(library(http/json)).
:- use_module(library(time)).
:- use_module(library(apply)).
:- use_module(library(lists)).

:- dynamic chil_theory:r/6.

:- dynamic atom_limit/1.
atom_limit(2_000_000).

%!  set_atom_limit(+N): at most N atoms derived per theory (then a resource error).
set_atom_limit(N) :-
    integer(N), N > 0,
    retractall(atom_limit(_)),
    assertz(atom_limit(N)).

decide_batch_terms(Text, Milliseconds, Answer) :-
    decide_batch_terms_(Text, Milliseconds, none, Answer).

decide_batch_terms(Text, Milliseconds, BatchMilliseconds, Answer) :-
    get_time(Now),
    Deadline is Now + BatchMilliseconds / 1000,
    decide_batch_terms_(Text, Milliseconds, Deadline, Answer).

decide_batch_terms_(Text, Milliseconds, Deadline, Answer) :-
    Seconds is Milliseconds / 1000,
    catch(decide_batch(Text, Seconds, Deadline, Answer), Error,
          ( failure(Error, Message), with_output_to(string(Answer), json_write(current_output, json([error=Message]))) )).

decide_batch(Text, Seconds, Deadline, Answer) :-
    term_string(Theories, Text),
    must_be(list, Theories),
    (   Theories = [Theory]  % one theory: call_with_time_limit/2 (no alarm to share)
    ->  Results = [Result],
        decide_until(decide_alone, Seconds, Deadline, Theory, Result)
    ;   setup_call_cleanup(limits_start,
                           maplist(decide_until(decide_theory, Seconds, Deadline), Theories, Results),
                           limits_stop)
    ),
    with_output_to(string(Answer), write_results(Results)).

%   decide_until(+How, +Seconds, +Deadline, +Theory, -Result): call(How, Left, Theory, Result) with the
%   theory's own limit cut to what is left before the batch's Deadline (none: no deadline); none left:
%   time_limit_exceeded, unevaluated.
decide_until(How, Seconds, Deadline, Theory, Result) :-
    (   Deadline == none
    ->  Left = Seconds
    ;   get_time(Now),
        Left is min(Seconds, Deadline - Now)
    ),
    (   Left =< 0
    ->  Result = "time_limit_exceeded"
    ;   call(How, Left, Theory, Result)
    ).

decide_alone(Seconds, Theory, Result) :-
    catch(call_with_time_limit(Seconds, setup_call_cleanup(new_theory(Trie), solve(Theory, Trie, Result), clear_theory(Trie))),
          Error, failure(Error, Result)).

decide_theory(Seconds, Theory, Result) :-
    get_time(Now),
    End is Now + Seconds,
    nb_setval(chil_theory_end, End),  % before arming: the alarm, should it strike now, sees this end
    limit_arm(Seconds),
    catch(( once(setup_call_cleanup(new_theory(Trie), solve(Theory, Trie, Result), clear_theory(Trie))),
            nb_setval(chil_theory_end, none) ),
          Error,
          ( nb_setval(chil_theory_end, none), failure(Error, Result) )).

%   Time limits.  Each theory stops at its own end (its start + its limit), as under
%   call_with_time_limit/2, but a batch's theories share one alarm: installing and removing an alarm
%   costs more than deciding a small theory (embedded in Python, ~37 us against ~130 us a ProntoQA
%   theory).  The alarm is armed when a theory starts only if it is not armed already; armed by an
%   earlier theory, it fires no later than this one's end (ends only grow: a start + the limit, or
%   the batch's deadline).  When it fires (limit_struck/0) during a theory that is past its end, that
%   theory stops with time_limit_exceeded; during one that is not, it is armed again for that
%   theory's end; between theories it is left disarmed (``struck``: the next theory takes it out
%   before arming it, as a struck alarm still counts as installed).
limits_start :-
    alarm(3600, chil_decide:limit_struck, Id, [install(false)]),
    nb_setval(chil_alarm, Id),
    nb_setval(chil_alarm_armed, false),
    nb_setval(chil_theory_end, none).

limits_stop :-
    nb_getval(chil_alarm, Id),
    nb_setval(chil_theory_end, none),
    nb_setval(chil_alarm_armed, false),
    remove_alarm(Id).

limit_arm(Seconds) :-
    nb_getval(chil_alarm_armed, Armed),
    (   Armed == true
    ->  true
    ;   nb_getval(chil_alarm, Id),
        (   Armed == struck
        ->  uninstall_alarm(Id)  % (after it struck, it still counts as installed)
        ;   true
        ),
        install_alarm(Id, Seconds),
        nb_setval(chil_alarm_armed, true)
    ).

limit_struck :-
    nb_getval(chil_theory_end, End),
    (   End == none
    ->  nb_setval(chil_alarm_armed, struck)
    ;   get_time(Now),
        Left is End - Now,
        (   Left =< 0.0005
        ->  nb_setval(chil_alarm_armed, struck),
            throw(time_limit_exceeded)
        ;   nb_getval(chil_alarm, Id),
            uninstall_alarm(Id),  % (it counts as installed while its goal runs)
            install_alarm(Id, Left)
        )
    ).

new_theory(Trie) :-
    retractall(chil_theory:r(_, _, _, _, _, _)),
    trie_new(Trie).

clear_theory(Trie) :-
    trie_destroy(Trie),
    retractall(chil_theory:r(_, _, _, _, _, _)).

%   A failure is a string: "time_limit_exceeded" or the error's message.
failure(time_limit_exceeded, "time_limit_exceeded") :- !.
failure(Error, Message) :-
    message_to_codes(Error, Codes),
    string_codes(Message, Codes).

message_to_codes(Error, Codes) :-
    catch(message_to_codes(Error, [], Codes0), _, fail), !, Codes = Codes0.
message_to_codes(Error, Codes) :-
    format(codes(Codes), "~q", [Error]).

%   Results: lists of integers are written as they are (valid JSON), failures as JSON strings.
write_results(Results) :-
    write('['),
    foldl(write_result, Results, "", _),
    write(']').

write_result(Result, Sep, ",") :-
    write(Sep),
    ( string(Result) -> json_write(current_output, Result) ; write(Result) ).

solve([Stride, Facts, Rules, Worlds, Queries], Trie, [Derivable, Clashes]) :-
    integer(Stride), Stride > 0,
    forall(member([Body, Head], Rules), assert_rule(Stride, Body, Head)),
    atom_limit(Limit),
    New = new(Trie, Stride, Limit, count(0)),
    findall(W-Key-Args, ( nth0(W, Worlds, Extra), ( member([Key, Args], Facts) ; member([Key, Args], Extra) ),
                          new(New, W, Key, Args) ), Delta),
    fixpoint(Delta, New),
    maplist(derivable(Trie, Stride), Queries, Derivable),
    findall([W, Key, Args], ( trie_gen(Trie, K-Args), K /\ 1 =:= 1, K1 is K - 1, trie_lookup(Trie, K1-Args, _),
                              W is K // Stride, Key is K mod Stride ), Clashes).

%   new(+New, +World, +Key, +Args): succeeds when the atom was not known (it is now); the theory's
%   Limit-th new atom is an error.
new(new(Trie, Stride, Limit, Count), W, Key, Args) :-
    K is W * Stride + Key,
    trie_insert(Trie, K-Args),
    arg(1, Count, N0),
    N is N0 + 1,
    nb_setarg(1, Count, N),
    (   N > Limit
    ->  throw(error(resource_error(chil_atoms), context(decide_batch_terms/3, 'too many derived atoms')))
    ;   true
    ).

%   One round: each atom new in the last one fires every rule that has it in its body, the rest of the
%   body looked up among all atoms known so far; the heads not known yet are the next round's delta
%   (only new atoms are ever collected: memory grows with the atoms, which are bounded).
fixpoint([], _) :- !.
fixpoint(Delta, New) :-
    arg(1, New, Trie),
    findall(W-HKey-HArgs, ( member(W-Key-Args, Delta), chil_theory:r(Key, Args, W, Trie, HKey, HArgs),
                            new(New, W, HKey, HArgs) ), Next),
    fixpoint(Next, New).

%   A rule Body -> Head: one clause per body literal i,
%     r(Key_i, Args_i, W, Trie, HeadKey, HeadArgs) :- K_j is W * Stride + Key_j, trie_gen(Trie, K_j-Args_j), ... (j =\= i)
assert_rule(Stride, BodyLits, HeadLit) :-
    foldl(body_literal, BodyLits, Body, [], Vars),
    literal(HeadLit, Vars, _, HKey-HArgs),
    forall(select(Key-Args, Body, Rest),
           ( lookups(Rest, Stride, W, Trie, Goal),
             assertz(chil_theory:(r(Key, Args, W, Trie, HKey, HArgs) :- Goal)) )).

body_literal(Lit, Key-Args, Vars0, Vars) :-
    literal(Lit, Vars0, Vars, Key-Args).

lookups([], _, _, _, true).
lookups([Key-Args|Rest], Stride, W, Trie, (K is W * Stride + Key, trie_gen(Trie, K-Args), Goal)) :-
    lookups(Rest, Stride, W, Trie, Goal).

%   literal(+Lit, +Vars0, -Vars, -Key-Args): Vars maps variable numbers (< 0) to variables; names stay
%   their numbers.
literal([Key, Codes], Vars0, Vars, Key-Args) :-
    integer(Key), Key >= 0,
    foldl(term, Codes, Args, Vars0, Vars).

term(N, V, Vars, Vars) :- integer(N), N < 0, memberchk(N-V, Vars), !.
term(N, V, Vars, [N-V|Vars]) :- integer(N), N < 0, !.
term(N, N, Vars, Vars) :- integer(N).

derivable(Trie, Stride, [W, [Key, Args]], Bool) :-
    K is W * Stride + Key,
    ( trie_lookup(Trie, K-Args, _) -> Bool = 1 ; Bool = 0 ).
