"""Hybrid ranking: the semantic and keyword lists fused so that neither drowns the other.

Plain reciprocal-rank fusion gives a keyword list that matched on any shared word as much say
as the semantic list, and on paraphrases those matches are mostly noise; on bare identifiers
the semantic list ranks near-twins (INC-78103, INC-78113) alike and drowns the one exact
match. Measured on bench/search_quality's tuning half, what wins is:

- records holding every identifier of the query as an exact phrase come first, in fused order
  among themselves (an identifier is strong evidence; a near-twin is not a match at all);
- the rest by weighted reciprocal ranks 1 / (k + rank) with a small k (10), where a keyword
  match counts by its tier: holding every word of the query counts as much as a semantic
  rank; holding only some words counts nothing. Weights 0 and 0.05 for that tier tie on the
  tuning half; 0.2 with k 60 lost up to 0.30 MRR to semantic on paraphrases, and fetching
  the tier at all cost ~400 ms a query at 100k records (an OR of common words ranks most of
  the table), so hybrid does not ask for it (bench/RESULTS.md);
- for a query without identifiers the every-word tier is asked among the semantic pool only
  (index/pool_keyword.py): the same ranks on the labelled set, at a millisecond instead of
  20-300 ms for common words at 100k records.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from foredeck.index.keyword import TIER_ALL, TIER_ANY, TIER_IDENTIFIERS, KeywordHit


@dataclass(frozen=True)
class FusionWeights:
    k: float = 10.0
    semantic: float = 1.0
    keyword: dict[int, float] = field(
        default_factory=lambda: {TIER_ALL: 1.0, TIER_IDENTIFIERS: 1.0, TIER_ANY: 0.0}
    )
    identifiers_first: bool = True

    @property
    def min_tier(self) -> int:
        """The lowest keyword tier worth fetching: a tier that weighs nothing is skipped."""
        return TIER_ANY if self.keyword.get(TIER_ANY, 0.0) > 0 else TIER_IDENTIFIERS


DEFAULT_WEIGHTS = FusionWeights()


@dataclass(frozen=True)
class Fused:
    memory_id: int
    score: float
    semantic_rank: int | None
    keyword_rank: int | None
    keyword_tier: int | None


def fuse(
    semantic: list[tuple[int, float]],
    keyword: list[KeywordHit],
    *,
    has_identifiers: bool,
    weights: FusionWeights = DEFAULT_WEIGHTS,
) -> list[Fused]:
    """One ranked list from both; ranks are 1-based positions in each input list."""
    sem_rank = {memory_id: i + 1 for i, (memory_id, _) in enumerate(semantic)}
    kw = {hit.memory_id: (i + 1, hit) for i, hit in enumerate(keyword)}
    out: list[tuple[bool, Fused]] = []
    for memory_id in {*sem_rank, *kw}:
        score = 0.0
        s_rank = sem_rank.get(memory_id)
        if s_rank is not None:
            score += weights.semantic / (weights.k + s_rank)
        k_rank, hit = kw.get(memory_id, (None, None))
        tier = hit.tier if hit is not None else None
        if k_rank is not None and tier is not None:
            score += weights.keyword.get(tier, 0.0) / (weights.k + k_rank)
        exact = (
            weights.identifiers_first
            and has_identifiers
            and tier is not None
            and tier >= TIER_IDENTIFIERS
        )
        out.append((exact, Fused(memory_id, score, s_rank, k_rank, tier)))
    out.sort(key=lambda item: (not item[0], -item[1].score, item[1].memory_id))
    return [fused for _, fused in out]
