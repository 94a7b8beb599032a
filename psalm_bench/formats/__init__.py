"""Data formats, one module each: loading, validation with clear errors, writing.

Evaluators and the model receive the validated records defined here, never raw JSON.
"""
