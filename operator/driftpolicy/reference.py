"""The stable version's reference profile (``profile.json``), read through the artifact's
source and checked against its manifest, whose digest is the ModelVersion's ``sha256``.
Cached per digest: an artifact is immutable, so its profile is read once per process."""

from __future__ import annotations

import threading
from collections import OrderedDict

from modelops.artifact.format import MANIFEST_FILE, MAX_MANIFEST_BYTES, MAX_PROFILE_BYTES, PROFILE_FILE
from modelops.artifact.sources import Deadline, open_source, read_limited, read_small
from modelops.artifact.verify import check_size_cap, verify_entry, verify_manifest
from modelops.drift.profile import Profile

CACHED = 16


class ReferenceProfiles:
    def __init__(self, timeout_s: float = 30.0, deadline_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self._cache: OrderedDict[str, Profile] = OrderedDict()
        self._lock = threading.Lock()
        self.reads = 0  # downloads done (tests check the cache)

    def get(self, uri: str, sha256: str) -> Profile:
        """Blocking (run it in a thread). Raises ArtifactError (reason, message) or ProfileError."""
        with self._lock:
            if sha256 in self._cache:
                self._cache.move_to_end(sha256)
                return self._cache[sha256]
        source = open_source(uri, self.timeout_s, Deadline(self.deadline_s))
        manifest = verify_manifest(read_small(source, MANIFEST_FILE, MAX_MANIFEST_BYTES), sha256,
                                   source.describe(MANIFEST_FILE))
        entry = manifest.entry(PROFILE_FILE)
        where = source.describe(PROFILE_FILE)
        check_size_cap(entry, MAX_PROFILE_BYTES, where)
        data = read_limited(source, PROFILE_FILE, entry.size + 1)
        verify_entry(entry, data, where)
        profile = Profile.from_bytes(data)
        with self._lock:
            self.reads += 1
            self._cache[sha256] = profile
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        return profile
