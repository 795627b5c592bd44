"""Bytes to values to text: decoding what the kernel wrote, encoding what a
user types, and the text and JSON printers."""
