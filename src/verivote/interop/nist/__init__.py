"""NIST Common Data Formats (JSON): SP 1500-100 v2 election results (`results`, read back by
`results_reader`), SP 1500-103 cast vote records (`cvr`, `cvr_reader`) and SP 1500-20 ballot
definitions (`ballot_definition`, imported as a manifest). Every NIST object is a plain JSON
dict made by a small function; `common` holds the pieces the formats share."""
