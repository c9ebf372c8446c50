import numpy as np

from tounum.caption.text import SPECIALS, Vocabulary, build_vocabulary, encode_batch, mirror_caption, normalize


def test_normalize_strips_punctuation_and_case():
    assert normalize("A  Dog's ball,\tRED!") == "a dog s ball red"
    assert normalize("...") == ""


def test_vocabulary_min_count_and_top_k():
    captions = ["a dog runs", "a dog sits", "a cat sits", "a bird"]
    assert build_vocabulary(captions, min_count=2).words == SPECIALS + ("a", "dog", "sits")
    assert build_vocabulary(captions, min_count=1, max_size=6).words == SPECIALS + ("a", "dog")


def test_vocabulary_round_trip_and_encoding(tmp_path):
    vocab = build_vocabulary(["a dog runs", "a dog"], min_count=1)
    (tmp_path / "vocab.json").write_text(vocab.to_json())
    again = Vocabulary.load(tmp_path / "vocab.json")
    assert again == vocab
    ids = again.encode("A dog flies", max_length=10)
    assert ids[0] == vocab.start_id and ids[-1] == vocab.end_id and ids[3] == vocab.unk_id
    assert again.decode(ids) == "a dog <unk>"
    batch = encode_batch(again, ["a dog runs a dog", "dog"], max_length=3)
    assert batch.shape == (2, 5) and batch.dtype == np.int32
    assert again.decode(batch[0]) == "a dog runs" and batch[1, 3:].tolist() == [0, 0]


def test_mirror_caption_swaps_sides_only_as_whole_words():
    assert mirror_caption("A dog on the left, a man on the Right.") == "A dog on the right, a man on the Left."
    assert mirror_caption("Left hand up; bright leftovers") == "Right hand up; bright leftovers"
    assert mirror_caption(mirror_caption("turns left then right")) == "turns left then right"
