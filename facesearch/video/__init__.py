"""`facesearch watch`: faces in video files, streams and webcams, identified and tracked."""
