"""Readers and writers of files: animation formats (BVH, glTF binary)."""
