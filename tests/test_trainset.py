"""stylelib.trainset: the image folder, the crops, the sampler and the batches of training.

Oracles: the rules themselves, by enumeration (every global sample taken exactly once over
the processes; the same ``(seed, k)`` giving the same crop; a crop inside its resized
image), and folders made here with good, broken and non-image files.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylelib.errors import StylelibError
from stylelib.images import save_image
from stylelib.trainset import (
    CropDataset,
    DataError,
    ErrorsAsValues,
    ShardSampler,
    collate,
    files_digest,
    image_digest,
    list_images,
    random_crop,
)


@pytest.fixture
def folder(tmp_path):
    """Three photos (one in a subfolder), a text file, and a broken 'image'."""
    gen = torch.Generator().manual_seed(0)
    (tmp_path / "sub").mkdir()
    for name in ("b.png", "a.png", "sub/c.png"):
        save_image(torch.rand(1, 3, 40, 56, generator=gen), tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    return tmp_path


def test_list_images_is_sorted_recursive_and_explains_an_empty_folder(folder, tmp_path_factory):
    names = [p.relative_to(folder).as_posix() for p in list_images(folder)]
    assert names == ["a.png", "b.png", "broken.jpg", "sub/c.png"]
    with pytest.raises(DataError, match="no images in"):
        list_images(tmp_path_factory.mktemp("empty"))
    with pytest.raises(DataError, match="is not a folder"):
        list_images(folder / "a.png")


def test_digests_change_with_the_files_and_the_pixels(folder):
    files = list_images(folder)
    assert files_digest(files, folder) == files_digest(list(files), folder)
    assert files_digest(files[:-1], folder) != files_digest(files, folder)
    image = torch.zeros(1, 3, 4, 4)
    assert image_digest("not a file", image) == image_digest(None, image.clone())
    assert image_digest(None, image) != image_digest(None, image + 0.5)


def test_random_crop_is_square_inside_the_image_and_seeded():
    image = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    a = random_crop(image, 32, np.random.default_rng(3))
    b = random_crop(image, 32, np.random.default_rng(3))
    assert a.shape == (3, 32, 32) and torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1


def test_crops_are_a_function_of_the_seed_and_the_sample_number(folder):
    files = [f for f in list_images(folder) if f.name != "broken.jpg"]
    first, second = CropDataset(files, 32, seed=7), CropDataset(files, 32, seed=7)
    for k in (5, 0, 3):  # any order: no state carried from one sample to the next
        assert torch.equal(first[k][0], second[k][0])
    assert not torch.equal(first[0][0], CropDataset(files, 32, seed=8)[0][0])
    epoch = {tuple(first.order(0))}
    assert sorted(epoch.pop()) == list(range(len(files)))


def test_an_unreadable_file_is_skipped_and_a_folder_of_them_is_one_line(folder):
    files = list_images(folder)
    data = CropDataset(files, 32, seed=0)
    skipped = [s for k in range(len(files)) for s in data[k][1]]
    assert [path for path, _ in skipped] == [str(folder / "broken.jpg")]
    broken = CropDataset([folder / "broken.jpg"], 32, seed=0)
    with pytest.raises(DataError, match="none of the 1 image files"):
        broken[0]
    error = ErrorsAsValues(broken)[0]
    assert isinstance(error, DataError) and "\n" not in str(error)


def test_the_sampler_gives_each_global_sample_to_exactly_one_process():
    batch, steps = 6, 4
    taken = []
    for rank in range(3):
        sampler = ShardSampler(1, steps, batch, rank, world_size=3)
        assert len(sampler) == (steps - 1) * 2
        taken += list(sampler)
    assert sorted(taken) == list(range(batch, steps * batch))  # resumed at step 1
    assert list(ShardSampler(0, 2, 4)) == list(range(8))  # one process: all of them, in order


def test_collate_passes_an_error_on_as_the_batch():
    error = StylelibError("broken folder")
    batch, skipped = collate([(torch.zeros(3, 2, 2), ()), error])
    assert batch is error and skipped == []


def test_collate_stacks_tensors_or_tuples_of_them():
    a, b = torch.zeros(3, 4, 4), torch.ones(3, 4, 4)
    batch, skipped = collate([(a, ()), (b, (("x.png", "broken"),))])
    assert batch.shape == (2, 3, 4, 4) and skipped == [("x.png", "broken")]
    pair, _ = collate([((a, b), ()), ((b, a), ())])
    assert [p.shape for p in pair] == [(2, 3, 4, 4)] * 2
    assert torch.equal(pair[0][1], b) and torch.equal(pair[1][1], a)
