"""Small parsers for the files podbrief reads: feeds, OPML, publisher transcripts."""
