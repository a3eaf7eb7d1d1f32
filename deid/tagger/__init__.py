"""A learned sequence tagger beside the rules: a linear-chain CRF (CRFsuite) over word features.

The rules find what their cue words and lists know; the tagger learns, from hand-annotated notes, the shapes
and neighbourhoods PHI has in clinical writing (a capitalised word after ``arbeider i``, a case-inflected
place, a surname before a comma on a patient line), so a company no list holds can still be found. Its spans
join the rules' candidates in conflict resolution; neither replaces the other.
"""

from deid.tagger.model import TAGGED_LABELS, SpanTagger, TaggedSpan, default_tagger

__all__ = ["TAGGED_LABELS", "SpanTagger", "TaggedSpan", "default_tagger"]
