"""Carshop at scale: the benchmarks (`make bench`), run against the large data set that
`seed_demo --scale large` loads (carshop/ops/testenv/large_data.py), that show the admin and the
API stay fast with a million repair orders."""
