"""Readers of RGB-D captures (Record3D, Stray Scanner, the generic RGB-D ZIP) yielding :class:`RGBDFrame`."""
