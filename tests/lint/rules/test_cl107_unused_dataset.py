"""CL107 unused-dataset."""

from ..helpers import PIPELINE, PRINCIPLE, findings

EXTRA = '\ndataset benign { path = "prompts.jsonl" }\n'


def test_dataset_no_stage_reads_is_flagged(tmp_path):
    found = findings(tmp_path, PRINCIPLE + EXTRA + PIPELINE, "CL107")
    assert [d.message for d in found] == ["dataset `benign` is not read by any stage"]


def test_dataset_a_stage_reads_is_not_flagged(tmp_path):
    body = PRINCIPLE + EXTRA + PIPELINE + (
        "stage benign_round { kind = critique_revision  model = assistant  prompts = benign }\n")
    assert findings(tmp_path, body, "CL107") == []
