import shutil

import pytest

from tounum.caption.evaluate import METRIC_KEYS, bleu_simple, score_captions

REFS = [["A dog runs on the grass .", "A brown dog is running outside ."],
        ["Two children play in the water .", "Kids splash in a pool ."],
        ["A man rides a bike .", "A cyclist on a road ."]]


def test_simple_tokenizer_scores_without_java():
    perfect = score_captions(REFS, [r[0] for r in REFS], use_java=False)
    assert set(METRIC_KEYS) <= set(perfect) and perfect["n_images"] == 3
    assert perfect["meteor"] is None and perfect["tokenizer"] == "simple"
    assert perfect["bleu4"] == pytest.approx(1.0, abs=1e-6)
    poor = score_captions(REFS, ["a cat", "a cat", "a cat"], use_java=False)
    assert poor["bleu1"] < perfect["bleu1"] and poor["cider"] < perfect["cider"]
    assert bleu_simple(REFS, [r[0] for r in REFS])[3] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.skipif(shutil.which("java") is None, reason="PTB tokenizer and METEOR need Java")
def test_java_metrics():
    scores = score_captions(REFS, ["a dog running on grass", "children in the water", "a man on a bike"])
    assert scores["tokenizer"] == "ptb"
    assert 0 < scores["meteor"] < 1 and 0 < scores["bleu1"] <= 1 and scores["cider"] > 0
