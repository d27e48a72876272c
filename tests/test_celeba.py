"""CelebA's official files, read from a tiny fixture written in the official layout."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from linksim.data.celeba import TABLE2_ATTRIBUTES, load_split, read_attributes
from linksim.errors import DataUnavailableError

NAMES = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Mustache", "Smiling", "Wavy_Hair"]


def _fixture(folder, count=6):
    (folder / "img_align_celeba").mkdir(parents=True)
    rows, parts = [], []
    rng = np.random.default_rng(0)
    for i in range(count):
        name = f"{i + 1:06d}.jpg"
        pixels = np.zeros((218, 178, 3), np.uint8)
        pixels[:, :] = (20 * i, 100, 200 - 20 * i)
        pixels[35:183, 15:163, 1] = 10 * i  # the centre 148 x 148 square differs per image
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name, quality=95)
        values = rng.choice([-1, 1], size=len(NAMES))
        rows.append(name + " " + " ".join(f"{v:2d}" for v in values))
        parts.append(f"{name} {[0, 0, 0, 1, 2, 2][i]}")
    (folder / "list_attr_celeba.txt").write_text(f"{count}\n" + " ".join(NAMES) + "\n" + "\n".join(rows) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(parts) + "\n")
    return rows


def test_official_layout_is_read_with_the_right_columns_and_splits(tmp_path):
    rows = _fixture(tmp_path)
    names, attributes = read_attributes(tmp_path)
    assert names == NAMES and set(TABLE2_ATTRIBUTES) <= set(names)
    assert list(attributes["000002.jpg"]) == [int(v > 0) for v in map(int, rows[1].split()[1:])]
    train, train_attr, _ = load_split(tmp_path, "train", 32)
    test, test_attr, _ = load_split(tmp_path, "test", 32)
    assert train.shape == (3, 32, 32, 3) and train.dtype == np.uint8 and test.shape == (2, 32, 32, 3)
    assert np.array_equal(test_attr[0], attributes["000005.jpg"])
    assert abs(int(train[2, 16, 16, 1]) - 20) <= 3  # image 3's centre: the crop keeps the inner square
    assert abs(int(train[0, 16, 16, 0]) - 0) <= 3 and abs(int(test[1, 16, 16, 0]) - 100) <= 3
    assert load_split(tmp_path, "train", 32, limit=2)[0].shape[0] == 2


def test_missing_files_are_named(tmp_path):
    with pytest.raises(DataUnavailableError, match="list_attr_celeba.txt"):
        load_split(tmp_path, "train", 32)
    _fixture(tmp_path)
    (tmp_path / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(DataUnavailableError, match="000002.jpg"):
        load_split(tmp_path, "train", 32)
    (tmp_path / "list_attr_celeba.txt").write_text("2\nA B\n000001.jpg 1 0\n")
    with pytest.raises(DataUnavailableError, match="attribute file"):
        read_attributes(tmp_path)


def test_celeba_as_an_image_source(tmp_path):
    from linksim.data.images import ImageDataset
    from linksim.errors import UserError

    _fixture(tmp_path)
    data = ImageDataset(ImageDataset.Params(source="celeba", path=str(tmp_path), attribute="Mustache"),
                        cache_dir=tmp_path / "cache")
    names, attributes = read_attributes(tmp_path)
    assert data.class_names == ["not Mustache", "Mustache"] and data.num_classes == 2
    train = data.split("train")
    assert train.images.shape == (3, 32, 32, 3)
    assert list(train.labels) == [int(attributes[f"{i:06d}.jpg"][names.index("Mustache")]) for i in (1, 2, 3)]
    ident = data.identity()
    assert ident["attribute"] == "Mustache" and len(ident["list_attr_celeba.txt"]) == 64
    assert "CelebA" in data.provenance()["source"]
    with pytest.raises(UserError, match="data.attribute"):
        ImageDataset(ImageDataset.Params(source="celeba", path=str(tmp_path), attribute="Beard"),
                     cache_dir=tmp_path / "cache").split("test")
    with pytest.raises(Exception, match="not an embedded attribute"):
        ImageDataset.Params(source="embedded", attribute="Smiling")
    with pytest.raises(Exception, match="only used with source: celeba or embedded"):
        ImageDataset.Params(source="cifar10", attribute="Smiling")
    missing = ImageDataset(ImageDataset.Params(source="celeba", path=str(tmp_path / "nowhere")))
    with pytest.raises(DataUnavailableError, match="nowhere"):
        missing.split("train")


def test_embedded_attributes_leave_every_pixel_and_key_as_it_was():
    from scipy import stats

    from linksim.data.image_generator import ATTRIBUTE_NAMES, generate_attributes, generate_images
    from linksim.data.images import ImageDataset

    plain = ImageDataset(ImageDataset.Params(source="embedded"))
    labelled = ImageDataset(ImageDataset.Params(source="embedded", attribute="occluded"))
    assert np.array_equal(plain.split("test").images, labelled.split("test").images)
    assert "attribute" not in plain.identity() and labelled.identity()["attribute"] == "occluded"
    assert plain.identity() == {k: v for k, v in labelled.identity().items() if k != "attribute"}
    assert labelled.num_classes == 2 and set(np.unique(labelled.split("test").labels)) == {0, 1}
    attributes = generate_attributes(10000, 0, "train")
    assert np.array_equal(generate_images(300, 0, "train")[0], plain.split("train").images[:300])
    for column, p in zip(range(len(ATTRIBUTE_NAMES)), (0.35, 0.5, 1 / 3)):
        hits = int(attributes[:, column].sum())
        assert stats.binomtest(hits, len(attributes), p).pvalue > 0.001, (ATTRIBUTE_NAMES[column], hits)
