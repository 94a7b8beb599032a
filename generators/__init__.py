"""Generators: data written in the official benchmark formats.

``coco_workload`` writes COCO-format scenes with realistic predictions, used
by the speed benchmarks and for the example data that ships with the package.
"""
