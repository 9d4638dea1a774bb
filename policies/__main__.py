"""`python -m policies`: print the shipped policy as the README's Markdown table."""

from policies.enforcement import Authorizer, markdown_matrix

print(markdown_matrix(Authorizer()))
