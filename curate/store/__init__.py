"""Where run data and files live: locations and filesystems (:mod:`storage`), atomic whole files
(:mod:`files`), Parquet shards (:mod:`shards`), the layout of a run's OUTPUT (:mod:`layout`), a
node's corner of it (:mod:`state`), the per-process cache (:mod:`cache`), content hashes for the
resume fingerprint (:mod:`hashes`) and atomic files outside a run (:mod:`atomic`).

Importing this package imports none of its modules: each is imported where it is used."""
