"""Carshop at scale: the bulk data generator (`seed_demo --scale large`) and the benchmarks
(`make bench`) that show the admin and the API stay fast with a million repair orders."""
