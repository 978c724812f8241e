"""Where podbrief keeps its data: paths, atomic file writes, the SQLite index and the run lock.

Files are the source of truth; the SQLite index is a fast view of them that
`Index.rebuild()` can recreate. See docs/architecture.md for the layout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import platformdirs

from podbrief.errors import InputError, LockedError, StorageError
from podbrief.formats.documents import EPISODE, INSIGHTS, RATINGS, TRANSCRIPT, Kind

HOME_ENV = "PODBRIEF_HOME"
MODELS_ENV = "PODBRIEF_MODELS_DIR"


def utcnow() -> str:
    """The current UTC time as an ISO 8601 string with a Z suffix."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def short_hash(*parts: str, length: int = 16) -> str:
    """A stable hex ID from strings; the only way podbrief names files."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:length]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Paths:
    home: Path

    @classmethod
    def default(cls) -> Paths:
        env = os.environ.get(HOME_ENV)
        return cls(Path(env).expanduser() if env else Path(platformdirs.user_data_dir("podbrief")))

    @property
    def config_file(self) -> Path:
        if os.environ.get(HOME_ENV):
            return self.home / "config.yaml"
        return Path(platformdirs.user_config_dir("podbrief")) / "config.yaml"

    @property
    def db(self) -> Path:
        return self.home / "index.sqlite"

    @property
    def lock(self) -> Path:
        return self.home / "run.lock"

    @property
    def feeds_dir(self) -> Path:
        return self.home / "feeds"

    @property
    def episodes_dir(self) -> Path:
        return self.home / "episodes"

    @property
    def briefs_dir(self) -> Path:
        return self.home / "briefs"

    @property
    def models_dir(self) -> Path:
        """Assembled models are a cache shared by every home (tests use throwaway homes)."""
        env = os.environ.get(MODELS_ENV)
        return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("podbrief")) / "models"

    @property
    def ratings_file(self) -> Path:
        return self.home / RATINGS.file

    def feed_file(self, feed_id: str) -> Path:
        return self.feeds_dir / f"{_check_id(feed_id)}.json"

    def episode_dir(self, episode_id: str) -> Path:
        return self.episodes_dir / _check_id(episode_id)

    def episode_file(self, episode_id: str, kind: Kind) -> Path:
        """One of an episode's documents: `paths.episode_file(episode_id, TRANSCRIPT)`."""
        return self.episode_dir(episode_id) / kind.file


def _check_id(value: str) -> str:
    """IDs become path components, so they must be plain hex."""
    if not value or not all(c in "0123456789abcdef" for c in value):
        raise InputError(f"not a podbrief ID: {value!r}")
    return value


# --- atomic writes -------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temp file next to `path`; on success fsync and rename it into place.

    On any exception the temp file is removed and `path` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_file(src: Path, dst: Path) -> None:
    """Rename a finished (already fsynced) file into place and make the rename durable."""
    os.replace(src, dst)
    _fsync_dir(dst.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_writer(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file, turning any failure into an InputError that names the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None


def expect_schema(data: Any, schema: str, source: str | Path, what: str) -> dict[str, Any]:
    """Return `data` if it is a dict tagged with `schema`; otherwise an InputError naming `source`."""
    found = data.get("schema") if isinstance(data, dict) else type(data).__name__
    if found != schema:
        raise InputError(f"{source}: not a {what} (schema {found!r}, expected {schema!r})")
    return data


# --- run lock --------------------------------------------------------------------------


@contextlib.contextmanager
def update_lock(path: Path) -> Iterator[None]:
    """Serialise read-modify-write updates of `path` between processes (waits; held for milliseconds).

    Readers need no lock: atomic writes never show them a half-written file.
    """
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def run_lock(paths: Paths) -> Iterator[None]:
    """A non-blocking exclusive lock: a second concurrent run fails at once with LockedError."""
    paths.home.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"another podbrief run is in progress (lock: {paths.lock})") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --- SQLite index ------------------------------------------------------------------------

# Each entry migrates the schema from version i to i + 1 (PRAGMA user_version).
MIGRATIONS: list[str] = [
    """
    CREATE TABLE feeds (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        name TEXT,
        title TEXT,
        added_at TEXT NOT NULL,
        last_checked TEXT,
        last_status TEXT,
        error TEXT
    );
    CREATE TABLE episodes (
        id TEXT PRIMARY KEY,
        feed_id TEXT NOT NULL,
        title TEXT,
        published TEXT,
        discovered_at TEXT NOT NULL,
        fetched_at TEXT,
        transcribed_at TEXT,
        extracted_at TEXT,
        failed_stage TEXT,
        error TEXT
    );
    CREATE INDEX episodes_feed ON episodes(feed_id);
    """,
    # feed URLs are no longer UNIQUE here: a feed moved onto another's URL (older podbrief) made every
    # save fail; fetch now refuses such moves and reports feeds that share a URL (docs/architecture.md)
    """
    CREATE TABLE feeds_new AS SELECT * FROM feeds;
    DROP TABLE feeds;
    ALTER TABLE feeds_new RENAME TO feeds;
    CREATE UNIQUE INDEX feeds_id ON feeds(id);
    """,
]

STAGE_COLUMNS = {"fetch": "fetched_at", "transcribe": "transcribed_at", "extract": "extracted_at"}


class Index:
    """The SQLite index of feeds and episodes with each episode's stage status."""

    def __init__(self, paths: Paths):
        self.paths = paths
        paths.home.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(paths.db, timeout=30, isolation_level=None)
        try:
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA busy_timeout=30000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            if isinstance(exc, sqlite3.OperationalError):  # the disk, not the file: full, read-only, I/O error
                raise storage_error(exc) from None
            raise InputError(f"{paths.db}: corrupt index ({exc}); `podbrief reindex` rebuilds it from the files") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.conn.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")

    # feeds

    def upsert_feed(self, feed: dict[str, Any]) -> None:
        self.conn.execute(
            """INSERT INTO feeds (id, url, name, title, added_at, last_checked, last_status, error)
               VALUES (:id, :url, :name, :title, :added_at, :last_checked, :last_status, :error)
               ON CONFLICT(id) DO UPDATE SET url=excluded.url, name=excluded.name, title=excluded.title,
                 last_checked=excluded.last_checked, last_status=excluded.last_status, error=excluded.error""",
            {key: feed.get(key) for key in ("id", "url", "name", "title", "added_at", "last_checked", "last_status", "error")},
        )

    def feeds(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM feeds ORDER BY added_at, id").fetchall()

    def remove_feed(self, feed_id: str) -> None:
        self.conn.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))

    # episodes

    def upsert_episode(self, episode: dict[str, Any]) -> None:
        self.conn.execute(
            """INSERT INTO episodes (id, feed_id, title, published, discovered_at)
               VALUES (:id, :feed_id, :title, :published, :discovered_at)
               ON CONFLICT(id) DO UPDATE SET title=excluded.title, published=excluded.published""",
            {key: episode.get(key) for key in ("id", "feed_id", "title", "published", "discovered_at")},
        )

    def episode(self, episode_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM episodes WHERE id = ?", (episode_id,)).fetchone()

    def episodes(self, feed_id: str | None = None) -> list[sqlite3.Row]:
        if feed_id:
            return self.conn.execute(
                "SELECT * FROM episodes WHERE feed_id = ? ORDER BY published DESC, id", (feed_id,)
            ).fetchall()
        return self.conn.execute("SELECT * FROM episodes ORDER BY published DESC, id").fetchall()

    def pending(self, stage: str) -> list[sqlite3.Row]:
        """Episodes whose previous stage is done and `stage` is not."""
        column = STAGE_COLUMNS[stage]
        previous = {"transcribe": "fetched_at", "extract": "transcribed_at"}.get(stage)
        where = f"{column} IS NULL" + (f" AND {previous} IS NOT NULL" if previous else "")
        return self.conn.execute(f"SELECT * FROM episodes WHERE {where} ORDER BY published DESC, id").fetchall()

    def mark_done(self, episode_id: str, stage: str, when: str | None = None) -> None:
        column = STAGE_COLUMNS[stage]
        self.conn.execute(
            f"UPDATE episodes SET {column} = ?, failed_stage = NULL, error = NULL WHERE id = ?",
            (when or utcnow(), episode_id),
        )

    def mark_failed(self, episode_id: str, stage: str, error: str) -> None:
        self.conn.execute(
            "UPDATE episodes SET failed_stage = ?, error = ? WHERE id = ?", (stage, error, episode_id)
        )

    def reset_stage(self, episode_id: str, stage: str) -> None:
        """Forget that `stage` (and every later stage) finished, e.g. after a model change."""
        stages = list(STAGE_COLUMNS)
        for later in stages[stages.index(stage):]:
            self.conn.execute(f"UPDATE episodes SET {STAGE_COLUMNS[later]} = NULL WHERE id = ?", (episode_id,))

    # rebuild

    def rebuild(self) -> tuple[int, int]:
        """Recreate the index from the files in the data dir. Returns (feeds, episodes)."""
        self.conn.execute("BEGIN")
        try:
            self.conn.execute("DELETE FROM feeds")
            self.conn.execute("DELETE FROM episodes")
            feeds = 0
            for path in sorted(self.paths.feeds_dir.glob("*.json")):
                self.upsert_feed(read_json(path))
                feeds += 1
            episodes = 0
            for directory in sorted(self.paths.episodes_dir.glob("*/")):
                meta_file = directory / EPISODE.file
                if not meta_file.exists():
                    continue
                meta = read_json(meta_file)
                self.upsert_episode(meta)
                for stage, filename in (
                    ("fetch", None),
                    ("transcribe", TRANSCRIPT.file),
                    ("extract", INSIGHTS.file),
                ):
                    done = meta.get("fetched_at") if filename is None else _mtime_iso(directory / filename)
                    if done:
                        self.mark_done(meta["id"], stage, done)
                episodes += 1
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return feeds, episodes


def reindex(paths: Paths) -> tuple[int, int]:
    """Rebuild the index from the files (hold the run lock); an index SQLite cannot read is replaced."""
    try:
        index = Index(paths)
    except InputError:
        for name in (paths.db.name, paths.db.name + "-wal", paths.db.name + "-shm"):
            (paths.home / name).unlink(missing_ok=True)
        index = Index(paths)
    with index:
        return index.rebuild()


def storage_error(exc: OSError | sqlite3.Error) -> StorageError:
    """One line for a failure of the disk under the data directory."""
    if isinstance(exc, sqlite3.Error):
        return StorageError(f"the index cannot be used ({exc}): is the disk full or read-only?")
    where = f"{exc.filename}: " if exc.filename else ""
    return StorageError(f"{where}{exc.strerror or exc}")


def _mtime_iso(path: Path) -> str | None:
    if not path.exists():
        return None
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).replace(microsecond=0)
    return stamp.isoformat().replace("+00:00", "Z")
