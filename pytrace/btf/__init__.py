"""BTF bytes to objects: the kernel's type information, read lazily."""
