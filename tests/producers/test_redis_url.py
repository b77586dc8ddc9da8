"""How REDIS_URL is understood (producers/redis_url.py), and what the settings say about it."""

from __future__ import annotations

import pytest
import redis.asyncio.sentinel
import redis.sentinel

from producers.connection import async_redis_client, redis_client
from producers.redis_errors import redacted_endpoint
from producers.redis_url import SentinelUrl, parse_sentinel_url
from producers.settings import Settings, SettingsError

THREE = "sentinel://:hunter2@s1:26379/2;sentinel://s2:26380;sentinel://s3"


def test_kombus_spelling_gives_every_sentinel_and_the_first_urls_login_and_database():
    parsed = parse_sentinel_url(THREE)
    assert parsed == SentinelUrl((("s1", 26379), ("s2", 26380), ("s3", 26379)), db=2,
                                 password="hunter2")
    assert parsed.login() == {"password": "hunter2"}
    assert "hunter2" not in repr(parsed)


def test_a_user_name_and_an_escaped_password_are_read_as_redis_py_reads_them():
    parsed = parse_sentinel_url("sentinel://ops:p%40ss@[::1]:26379")
    assert parsed.login() == {"username": "ops", "password": "p@ss"}
    assert parsed.sentinels == (("::1", 26379),) and parsed.db == 0


def test_the_endpoint_in_messages_names_the_sentinels_and_database_never_the_password():
    assert redacted_endpoint(THREE) == "sentinel s1:26379,s2:26380,s3:26379/2"
    assert redacted_endpoint("redis://:pw@h:6379/1") == "h:6379/1"


@pytest.mark.parametrize(("url", "why"), [
    ("sentinel://s1:26379;redis://s2:6379", "sentinel URL 2 does not start with sentinel://"),
    ("sentinel://:a@s1/0;sentinel://:b@s2", "sentinel URL 2 names another password"),
    ("sentinel://s1/0;sentinel://s2/1", "sentinel URL 2 names another password or database"),
    ("sentinel://s1:26379/zero", "sentinel URL 1: the database after '/' must be a number"),
    ("sentinel://s1:port", "sentinel URL 1 has no valid host:port"),
    ("sentinel://:26379", "sentinel URL 1 names no host"),
    ("sentinel://s1?ssl=true", "sentinel URL 1 has options after '?'"),
])
def test_a_sentinel_url_a_client_cannot_use_is_refused_naming_redis_url_and_why(url, why):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"REDIS_URL": url, "NOTIFY_SENTINEL_MASTER": "m"})
    message = str(caught.value)
    assert message.startswith("REDIS_URL=") and why in message, message
    assert ":a@" not in message and ":b@" not in message  # the password is masked


@pytest.mark.parametrize("url", ["unix:///tmp/redis.sock", "localhost:6379", "sentinel:/s1"])
def test_other_forms_are_refused_with_the_accepted_ones(url):
    with pytest.raises(SettingsError, match="expected redis://, rediss:// or sentinel://"):
        Settings.from_env({"REDIS_URL": url})


def test_a_sentinel_url_needs_the_monitored_name_and_the_name_needs_a_sentinel_url():
    with pytest.raises(SettingsError, match="^NOTIFY_SENTINEL_MASTER is not set: REDIS_URL "
                                            "is a sentinel:// URL"):
        Settings.from_env({"REDIS_URL": THREE})
    with pytest.raises(SettingsError, match="^NOTIFY_SENTINEL_MASTER is set but REDIS_URL is "
                                            "not a sentinel:// URL"):
        Settings.from_env({"NOTIFY_SENTINEL_MASTER": "mymaster"})
    with pytest.raises(SettingsError, match="^NOTIFY_SENTINEL_MASTER='my master' is not valid"):
        Settings.from_env({"REDIS_URL": THREE, "NOTIFY_SENTINEL_MASTER": "my master"})


def test_replica_waits_are_off_by_default_and_checked_when_set():
    assert (Settings().enqueue_min_replicas, Settings().enqueue_replica_timeout_s) == (0, 1.0)
    settings = Settings.from_env({"NOTIFY_ENQUEUE_MIN_REPLICAS": "2",
                                  "NOTIFY_ENQUEUE_REPLICA_TIMEOUT": "0.25"})
    assert (settings.enqueue_min_replicas, settings.enqueue_replica_timeout_s) == (2, 0.25)


def sentinel_settings() -> Settings:
    return Settings.from_env({"REDIS_URL": THREE, "NOTIFY_SENTINEL_MASTER": "mymaster"})


def test_clients_of_a_sentinel_url_ask_the_sentinels_for_the_monitored_primary():
    client = redis_client(sentinel_settings(), socket_timeout=5)  # connects on first use
    pool = client.connection_pool
    assert isinstance(pool, redis.sentinel.SentinelConnectionPool)
    assert pool.service_name == "mymaster" and pool.is_master
    assert [(c.connection_pool.connection_kwargs["host"], c.connection_pool.connection_kwargs[
        "port"]) for c in pool.sentinel_manager.sentinels] == [("s1", 26379), ("s2", 26380),
                                                               ("s3", 26379)]
    kwargs = pool.connection_kwargs
    assert (kwargs["db"], kwargs["password"], kwargs["socket_timeout"]) == (2, "hunter2", 5)
    client.close()


def test_async_clients_of_a_sentinel_url_too_with_a_bounded_pool_when_asked():
    client = async_redis_client(sentinel_settings(), max_connections=7, socket_timeout=3)
    pool = client.connection_pool
    assert isinstance(pool, redis.asyncio.sentinel.SentinelConnectionPool)
    assert isinstance(pool, redis.asyncio.BlockingConnectionPool)
    assert (pool.service_name, pool.max_connections, pool.timeout) == ("mymaster", 7, 3)
    assert pool.connection_kwargs["password"] == "hunter2"


def test_the_celery_broker_takes_the_same_url_with_the_master_name():
    from worker.celery import celery_config

    config = celery_config(sentinel_settings())
    assert config["broker_url"] == THREE
    options = config["broker_transport_options"]
    assert isinstance(options, dict) and options["master_name"] == "mymaster"
    plain = celery_config(Settings())["broker_transport_options"]
    assert isinstance(plain, dict) and "master_name" not in plain


def test_sentinels_that_name_no_primary_say_so_and_what_to_do():
    from producers.exceptions import QueueUnavailable
    from producers.redis_errors import queue_error

    for kind in (redis.sentinel.MasterNotFoundError, redis.asyncio.sentinel.MasterNotFoundError):
        error = queue_error(kind("No master found for 'mymaster'"), redacted_endpoint(THREE))
        assert isinstance(error, QueueUnavailable) and error.retryable
        assert str(error).startswith("redis at sentinel s1:26379,s2:26380,s3:26379/2 has no "
                                     "primary now: No master found for 'mymaster'; retry in "
                                     "a few seconds with the same idempotency key")
