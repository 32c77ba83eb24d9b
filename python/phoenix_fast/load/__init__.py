"""``phoenix-fast load``: load-test a Phoenix application with many sockets and channels.

The pieces: :mod:`~phoenix_fast.load.scenario` (options, TOML, checks),
:mod:`~phoenix_fast.load.runner` (the asyncio engine of one process),
:mod:`~phoenix_fast.load.stats` and :mod:`~phoenix_fast.load.report` (counts, HDR
histograms, JSON reports that merge exactly), :mod:`~phoenix_fast.load.progress` (the live
display), :mod:`~phoenix_fast.load.procs` (``--procs N``) and
:mod:`~phoenix_fast.load.locust_user` (a Locust ``User`` for distributed runs; imports
Locust, so import it only from a locustfile).
"""
