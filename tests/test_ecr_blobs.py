"""The content-addressed blob store: verified commits, resumable uploads, nothing half-visible."""

from __future__ import annotations

import threading

import pytest

from lab.ecr.blobs import BlobStore, DigestMismatch, UploadUnknown, digest_of


def test_put_and_read(tmp_path):
    store = BlobStore(tmp_path)
    digest = store.put(b"content")
    assert digest == digest_of(b"content")
    assert store.has(digest) and store.size(digest) == 7 and store.read(digest) == b"content"
    assert store.path(digest).read_bytes() == b"content"


def test_digests_the_store_cannot_hold_are_absent(tmp_path):
    store = BlobStore(tmp_path)
    for digest in ("sha512:" + "a" * 128, "sha256:../../etc/passwd", "nonsense"):
        assert not store.has(digest)


def test_upload_commit_verifies_the_digest(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    assert store.append(upload, b"ab") == 2
    assert store.append(upload, b"c") == 3
    assert store.size_of(upload) == 3
    assert store.commit(upload, digest_of(b"abc")) == digest_of(b"abc")
    assert store.read(digest_of(b"abc")) == b"abc"
    with pytest.raises(UploadUnknown):
        store.size_of(upload)


def test_a_wrong_digest_raises_and_stores_nothing(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    store.append(upload, b"abc")
    with pytest.raises(DigestMismatch) as caught:
        store.commit(upload, digest_of(b"xyz"))
    assert caught.value.computed == digest_of(b"abc")
    assert not store.has(digest_of(b"abc")) and not store.has(digest_of(b"xyz"))
    assert store.commit(upload, digest_of(b"abc"))  # still open, still whole


def test_an_interrupted_upload_leaves_nothing_visible_and_cancel_cleans_up(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    store.append(upload, b"half")
    assert not store.has(digest_of(b"half"))
    store.cancel(upload)
    assert list((tmp_path / "uploads").iterdir()) == []
    with pytest.raises(UploadUnknown):
        store.append(upload, b"more")


def test_an_upload_resumes_after_a_restart(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    store.append(upload, b"first ")
    restarted = BlobStore(tmp_path)
    assert restarted.size_of(upload) == 6
    restarted.append(upload, b"second")
    assert restarted.commit(upload, digest_of(b"first second"))


def test_bytes_of_a_crashed_append_past_the_acknowledged_size_are_dropped(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    store.append(upload, b"acknowledged")
    with (tmp_path / "uploads" / upload).open("ab") as data:
        data.write(b"torn write")  # written, never synced: a kill -9 before the size record
    restarted = BlobStore(tmp_path)
    assert restarted.size_of(upload) == len(b"acknowledged")
    assert restarted.commit(upload, digest_of(b"acknowledged"))
    assert restarted.read(digest_of(b"acknowledged")) == b"acknowledged"


def test_unknown_and_malformed_upload_ids(tmp_path):
    store = BlobStore(tmp_path)
    for upload in ("4f1c7a6e-0000-4000-8000-000000000000", "../../escape", ""):
        with pytest.raises(UploadUnknown):
            store.append(upload, b"x")


def test_concurrent_appends_to_one_upload_keep_every_byte(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    chunk = b"x" * 4096
    threads = [threading.Thread(target=store.append, args=(upload, chunk)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.size_of(upload) == 8 * 4096
    assert store.commit(upload, digest_of(chunk * 8))


def test_a_commit_racing_a_cancel_leaves_one_outcome(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    store.append(upload, b"race")
    store.cancel(upload)
    with pytest.raises(UploadUnknown):
        store.commit(upload, digest_of(b"race"))


def test_written_bytes_survive_a_restart_only_once_synced(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    assert store.write(upload, [b"never ", b"synced"]) == 12
    assert BlobStore(tmp_path).size_of(upload) == 0
    assert store.sync(upload) == 12
    store.write(upload, [b" and more"])
    restarted = BlobStore(tmp_path)
    assert restarted.size_of(upload) == 12
    restarted.write(upload, [b"!"])  # over the unsynced leftovers, which commit then drops
    assert restarted.commit(upload, digest_of(b"never synced!")) == digest_of(b"never synced!")
    assert restarted.read(digest_of(b"never synced!")) == b"never synced!"


def test_a_commit_of_unsynced_bytes_stores_them_whole(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    store.write(upload, [b"a" * 5000, b"b" * 3])
    assert store.commit(upload, digest_of(b"a" * 5000 + b"bbb"))
    assert BlobStore(tmp_path).read(digest_of(b"a" * 5000 + b"bbb")) == b"a" * 5000 + b"bbb"


def test_a_write_of_more_pieces_than_one_system_call_takes_keeps_their_order(tmp_path):
    store = BlobStore(tmp_path)
    upload = store.start()
    pieces = [bytes([i % 251]) * (1 + i % 7) for i in range(3000)] + [b"", b"tail"]  # > IOV_MAX
    data = b"".join(pieces)
    assert store.write(upload, pieces) == len(data)
    assert store.commit(upload, digest_of(data)) == digest_of(data)
    assert store.read(digest_of(data)) == data
