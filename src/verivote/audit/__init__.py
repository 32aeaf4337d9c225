"""Audits of the paper against the electronic result (issue 18): the assertions a Majlis
outcome rests on and the sample sizes of ballot-polling audits (`sample_size`)."""
