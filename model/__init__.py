"""The reference PSALM model (architecture, training, inference).

It writes predictions in the same files any model would and is scored by
``psalm_bench.evaluators``; it never imports an evaluator.
"""
