// Hive Gateway: forward the caller's credentials to the subgraphs, so Isthmus
// authorises every `_entities` call as the person who asked the router.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      return { authorization: request.headers.get('authorization') };
    },
  },
});
