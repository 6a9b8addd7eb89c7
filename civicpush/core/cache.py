# mypy: disable-error-code="attr-defined"
"""The Redis cache backend, with one Redis client per process and server instead of one per call
(the private attributes of Django's RedisCacheClient it uses are not in django-stubs: hence the mypy line).

Django's RedisCache builds a `redis.Redis` object on every operation (about 170 response callbacks
registered each time) and keeps a connection pool per thread. Here one client per server (and its
connection pool, which is thread-safe and fork-aware) serves every thread of the process, and keys
are not checked for memcached's limits (Redis has none of them; the keys are Django's own). Values,
timeouts, key prefixes and versions are Django's: this is `django.core.cache.backends.redis` with
the client reused, and behaves the same (settings.CACHES, `CIVICPUSH_CACHE_URL`).
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_shared: dict[tuple[Any, ...], SharedClientRedisCacheClient] = {}
_lock = threading.Lock()


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, servers: list[str], **options: Any) -> None:
        super().__init__(servers, **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            with _lock:
                client = self._clients.get(index)
                if client is None:
                    client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client

    def get(self, key: Any, default: Any) -> Any:
        """GET on a pooled connection directly: the most frequent operation (cached sessions) without
        the client's per-command machinery. On any error the connection is dropped and the command
        goes through the client (its retries and reconnection)."""
        pool = self._get_connection_pool(False)
        try:
            conn = pool.get_connection()
        except Exception:  # (the client reports it, with its retries)
            return super().get(key, default)
        try:
            conn.send_command("GET", key)
            value = conn.read_response()
        except Exception:
            conn.disconnect()
            pool.release(conn)
            return super().get(key, default)
        pool.release(conn)
        return default if value is None else self._serializer.loads(value)


class SharedClientRedisCache(RedisCache):
    """settings.CACHES BACKEND "civicpush.core.cache.SharedClientRedisCache" (LOCATION, OPTIONS as
    for Django's RedisCache)."""

    @cached_property
    def _cache(self) -> SharedClientRedisCacheClient:  # type: ignore[override]
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _shared.get(key)
        if client is None:
            with _lock:
                client = _shared.get(key)
                if client is None:
                    client = _shared[key] = SharedClientRedisCacheClient(self._servers, **self._options)
        return client

    def make_and_validate_key(self, key: Any, version: int | None = None) -> str:
        return str(self.make_key(key, version=version))
