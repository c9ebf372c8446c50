import numpy as np
import pytest
from PIL import Image

from tounum.caption.features import build_grid_cache, cache_folder


class ColourBackbone:
    """Deterministic stand-in for the CNN: the grid is each image's mean colour, tiled."""

    version = "colour-test-v1"
    grid_shape = (7, 7, 3)

    def __init__(self):
        self.seen = 0

    def features(self, images, batch_size=32):
        self.seen += len(images)
        grid = np.stack([np.broadcast_to(im.reshape(-1, 3).mean(0), (7, 7, 3)) for im in images])
        return type("Features", (), {"grid": grid.astype(np.float32)})


def _write(path, value):
    Image.fromarray(np.full((6, 9, 3), value, np.uint8)).save(path)
    return str(path)


def test_cache_reports_bad_images_and_resumes(tmp_path):
    a, b = _write(tmp_path / "a.png", 10), _write(tmp_path / "b.png", 200)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    folder = tmp_path / "cache"
    backbone = ColourBackbone()
    first = build_grid_cache([a, str(bad), b], folder, backbone, batch_size=2)
    assert first.rows[1] == -1 and len(first.problems) == 1 and "bad.jpg" in first.problems[0]
    assert first.grid.dtype == np.float16 and first.grid.shape[1:] == (49, 3)
    np.testing.assert_allclose(first.grid[first.rows[2]], 200)
    assert backbone.seen == 2

    c = _write(tmp_path / "c.png", 90)
    same_as_a = _write(tmp_path / "copy_of_a.png", 10)
    again = build_grid_cache([a, b, c, same_as_a], folder, backbone)
    assert backbone.seen == 3  # only c was new: a, b and a's copy come from the cache
    assert again.rows[3] == again.rows[0] == first.rows[0]
    np.testing.assert_allclose(again.grid[again.rows[2]], 90)
    np.testing.assert_allclose(again.grid[again.rows[1]], 200)


def test_cache_folder_depends_on_backbone_resize_and_view(tmp_path):
    keys = {cache_folder(tmp_path, v, r, view) for v in ("v1", "v2") for r in ("pad", "squash")
            for view in ("", "flip")}
    assert len(keys) == 8
    with pytest.raises(ValueError, match="unknown view"):
        cache_folder(tmp_path, "v1", "squash", "rotate")


class LeftColumnBackbone(ColourBackbone):
    """The grid is the mean colour of the image's leftmost column: it sees a mirror."""

    def features(self, images, batch_size=32):
        return super().features([im[:, :1] for im in images], batch_size)


def test_flip_view_is_cached_apart_and_sees_the_mirrored_image(tmp_path):
    pixels = np.zeros((6, 9, 3), np.uint8)
    pixels[:, 0], pixels[:, -1] = 30, 220
    path = tmp_path / "two_sides.png"
    Image.fromarray(pixels).save(path)
    backbone = LeftColumnBackbone()
    plain = build_grid_cache([str(path)], tmp_path / "plain", backbone)
    flipped = build_grid_cache([str(path)], tmp_path / "flip", backbone, view="flip")
    np.testing.assert_allclose(plain.grid[plain.rows[0]], 30)
    np.testing.assert_allclose(flipped.grid[flipped.rows[0]], 220)
    again = build_grid_cache([str(path)], tmp_path / "flip", backbone, view="flip")
    assert backbone.seen == 2  # the mirrored grid came from its cache
    np.testing.assert_allclose(again.grid[again.rows[0]], 220)
    with pytest.raises(ValueError, match="view 'flip', not ''"):
        build_grid_cache([str(path)], tmp_path / "flip", backbone)


def test_growing_the_grid_keeps_every_row(tmp_path):
    from tounum.caption.features import _open_grid

    grid = _open_grid(tmp_path, 600, (49, 2))  # more rows than one copy chunk
    grid[:] = np.arange(600, dtype=np.float16)[:, None, None]
    grid.flush()
    del grid
    grown = _open_grid(tmp_path, 700, (49, 2))
    assert grown.shape == (700, 49, 2)
    np.testing.assert_array_equal(grown[:600, 0, 0], np.arange(600, dtype=np.float16))
