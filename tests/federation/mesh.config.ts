// Composes Isthmus with the marketing subgraph into a supergraph (GraphQL Mesh compose CLI).
// ISTHMUS_URL, MARKETING_URL: the subgraphs' GraphQL endpoints.
// ISTHMUS_TOKEN: a token that may read `_service { sdl }` (used only while composing;
// it is not written into the supergraph).
import { defineConfig, loadGraphQLHTTPSubgraph } from '@graphql-mesh/compose-cli';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadGraphQLHTTPSubgraph('isthmus', {
        endpoint: process.env.ISTHMUS_URL!,
        federation: true,
        schemaHeaders: { authorization: `Bearer ${process.env.ISTHMUS_TOKEN}` },
      }),
    },
    {
      sourceHandler: loadGraphQLHTTPSubgraph('marketing', {
        endpoint: process.env.MARKETING_URL!,
        federation: true,
      }),
    },
  ],
});
