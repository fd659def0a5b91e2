"""Synthetic test data with known ground truth: a person scene and the RGB-D capture files written from it.

Test files import these as ``from generators.scene import make_scene`` (pytest puts ``tests/`` on
``sys.path`` because it holds ``conftest.py`` and no ``__init__.py``).
"""
