"""CL302 duplicate-principle."""

from constlang.lint.text import similar_pairs

from ..helpers import PIPELINE, findings, line_of

TWO = '''
principle harmful {
  critique = "List every way the reply is harmful, unethical or illegal."
  revision = "Rewrite the reply without the harm."
}
principle illegal {
  critique = "List every way the reply is harmful, unethical, dangerous or illegal."
  revision = "Remove whatever breaks the law, and keep helping."
}
'''


def test_near_duplicate_critique_is_flagged_on_the_later_principle(tmp_path):
    body = TWO + PIPELINE
    found = findings(tmp_path, body, "CL302")
    assert [(d.span.line, d.message) for d in found] == [
        (line_of(body, "harmful, unethical, dangerous"),
         "principle `illegal` has nearly the same (91% of words shared) `critique` as "
         "`harmful`")]


def test_exact_duplicate_revision_is_called_the_same(tmp_path):
    body = TWO.replace("Remove whatever breaks the law, and keep helping.",
                       "Rewrite the REPLY without the harm!") + PIPELINE
    messages = [d.message for d in findings(tmp_path, body, "CL302")]
    assert "principle `illegal` has the same `revision` as `harmful`" in messages


def test_distinct_principles_are_not_flagged(tmp_path):
    body = TWO.replace("harmful, unethical, dangerous or illegal", "against the law") + PIPELINE
    assert findings(tmp_path, body, "CL302") == []


def test_similar_pairs_misses_no_pair_that_brute_force_finds():
    import itertools
    import random

    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(30)]
    texts = [" ".join(rng.choices(vocab, k=rng.randint(4, 9))) for _ in range(120)]
    texts += [t + " w0" for t in texts[:20]]  # guaranteed near-duplicates
    brute = set()
    for i, j in itertools.combinations(range(len(texts)), 2):
        a, b = set(texts[i].split()), set(texts[j].split())
        if min(len(a), len(b)) >= 4 and len(a & b) / len(a | b) >= 0.8:
            brute.add((i, j))
    assert {(i, j) for i, j, _ in similar_pairs(texts, 0.8)} == brute
    assert brute


def test_first_only_keeps_each_texts_first_pair_and_nothing_else():
    texts = [f"say reply {i} is kind and true" for i in range(6)] + ["one two three four five"]
    every = similar_pairs(texts, 0.7)
    firsts = similar_pairs(texts, 0.7, first_only=lambda j: j % 2 == 0)
    expected = [p for p in every if p[1] % 2 == 1]  # odd texts: all their pairs
    for j in {b for _, b, _ in every if b % 2 == 0}:  # even texts: the smallest i only
        expected.append(min(p for p in every if p[1] == j))
    assert sorted(firsts) == sorted(expected)
    assert len(firsts) < len(every)
