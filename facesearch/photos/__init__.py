"""Photos on disk: finding them (gallery layouts, query arguments) and decoding them safely."""
