"""The systems notify-relay is compared with, each as plain as its documentation shows.

Both POST `benchmarks.body.BODY` to the same endpoint with the same headers through a
pooled `requests.Session` (one per process), and nothing else: no outcome record, no
claim, no rate limiter, no retries. Workers read `BENCH_REDIS_URL` and
`BENCH_ENDPOINT_URL` from the environment.
"""
