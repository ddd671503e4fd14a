"""The DJ rules a set is judged by: transition scores, key mixability, the energy arc and
the set rules (artist gap, one copy of a song, tempo limit) as costs the solver minimises."""
