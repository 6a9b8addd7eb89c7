"""Push images are checked by content, re-encoded without metadata, and thumbnailed."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from civicpush.core.errors import ValidationFailed
from civicpush.pushes import images, services
from civicpush.pushes.models import PushImage
from civicpush.pushes.tests.conftest import draft_fields


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path


def _png(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (640, 480), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "gps-and-secrets"  # Software
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture
def push(org):
    return services.do_create_draft(org.user("prevention.drafter"), org.unit("prevention"), **draft_fields())


def test_a_text_file_renamed_png_is_refused(org, push) -> None:
    upload = io.BytesIO(b"this is not an image at all")
    upload.name = "poster.png"
    with pytest.raises(ValidationFailed) as exc:
        services.do_add_image(org.user("prevention.drafter"), push, upload)
    assert "image" in exc.value.field_errors
    assert not PushImage.objects.exists()


def test_a_real_png_is_accepted_with_a_320_pixel_thumbnail(org, push) -> None:
    image = services.do_add_image(org.user("prevention.drafter"), push, _png(), alt_text="海報")
    assert image.content_type == "image/png" and (image.width, image.height) == (800, 600)
    with image.thumbnail.open("rb") as f, Image.open(f) as thumb:
        assert thumb.format == "PNG" and thumb.size == (320, 240)
    with image.image.open("rb") as f, Image.open(f) as full:
        assert full.size == (800, 600)


def test_exif_is_stripped_by_re_encoding(org, push) -> None:
    image = services.do_add_image(org.user("prevention.drafter"), push, _jpeg_with_exif())
    with image.image.open("rb") as f:
        data = f.read()
    assert b"SecretCam" not in data and b"gps-and-secrets" not in data
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG" and not img.getexif()


def test_images_too_large_or_of_other_formats_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        images.process_image(_png(4097, 10))
    gif = io.BytesIO()
    Image.new("P", (10, 10)).save(gif, "GIF")
    with pytest.raises(ValidationFailed):
        images.process_image(gif.getvalue())
    with pytest.raises(ValidationFailed):
        images.process_image(b"\x00" * (5 * 1024 * 1024 + 1))


def test_adding_an_image_to_a_submitted_push_sends_it_back_to_draft(org, push) -> None:
    from civicpush.pushes.tests.conftest import make_citizen, make_group

    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    push = services.do_update_draft(org.user("prevention.drafter"), push, target_group_ids=[group.pk])
    services.do_submit(org.user("prevention.drafter"), push)
    services.do_add_image(org.user("prevention.drafter"), push, _png())
    push.refresh_from_db()
    assert push.status == "draft" and push.revision == 3
