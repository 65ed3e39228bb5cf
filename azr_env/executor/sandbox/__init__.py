"""Code that runs inside sandbox processes.

Self-contained on purpose: standard library and pyseccomp only, relative imports only. A sandbox
process loads this package from its folder under its own name, so it never imports the rest of
azr_env (gymnasium, numpy) or anything of the trainer's.
"""
