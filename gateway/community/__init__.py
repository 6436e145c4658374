"""Community services: communities, members, people, held posts, CSV files."""
