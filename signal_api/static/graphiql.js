// GraphiQL for the Futures Signal API, loaded from this service only (see signal_api/graphiql.py).
// Queries and mutations go over HTTP POST to this page's URL; subscriptions over graphql-transport-ws
// (graphql-ws client). The API key of the Headers tab ({"X-API-Key": "fsa_..."} or
// {"Authorization": "Bearer fsa_..."}) goes with every HTTP request and, since a browser cannot set
// WebSocket handshake headers, in the connection_init payload as {"apiKey": "..."}.
(function (window, document, React, ReactDOM, GraphiQL, graphqlWs, explorer) {
  "use strict";

  const DEFAULT_QUERY = `# Futures Signal API. Ctrl-Enter runs the operation;
# the book icon (top left) documents every field.
# An API key, when the service asks for one, goes in the
# Headers tab below: {"X-API-Key": "fsa_..."}. It is sent
# with queries and, for subscriptions, in connection_init.

query Signal {
  signal(symbol: "BTCUSDT") {
    __typename
    ... on Signal {
      recommendation
      score
      confidence
    }
  }
}
`;

  const endpoint = window.location.href.split(/[?#]/)[0];
  const socketEndpoint = endpoint.replace(/^http/, "ws");
  // ?q=<document>&variables=<json> open the page on that operation (not ?query=: a GET with a query
  // parameter is executed by the endpoint instead of showing this page)
  const parameters = new URLSearchParams(window.location.search);

  function apiKeyOf(headers) {
    for (const [name, value] of Object.entries(headers || {})) {
      const lower = name.toLowerCase();
      if (lower === "x-api-key") return String(value);
      if (lower === "authorization") return String(value).replace(/^Bearer\s+/i, "");
    }
    return "";
  }

  // One WebSocket client per API key, opened by the first subscription and reused by the next ones.
  let socket = null;
  let socketKey = null;
  function socketFor(headers) {
    const key = apiKeyOf(headers);
    if (socket === null || key !== socketKey) {
      if (socket !== null) socket.dispose();
      socket = graphqlWs.createClient({
        url: socketEndpoint,
        connectionParams: key ? { apiKey: key } : {},
        lazy: true,
        retryAttempts: 2,
      });
      socketKey = key;
    }
    return socket;
  }

  function isSubscription(params) {
    try {
      const document_ = GraphiQL.GraphQL.parse(params.query);
      const operation = GraphiQL.GraphQL.getOperationAST(document_, params.operationName || undefined);
      return operation !== null && operation !== undefined && operation.operation === "subscription";
    } catch (error) {
      return false; // not parseable: sent over HTTP, whose answer names the syntax error
    }
  }

  const http = GraphiQL.createFetcher({ url: endpoint });

  function subscribe(params, headers) {
    return {
      subscribe(observer) {
        const dispose = socketFor(headers).subscribe(params, {
          next: (result) => observer.next(result),
          complete: () => observer.complete(),
          error: (error) => {
            if (Array.isArray(error)) {
              // an `error` message (extensions.code says why): shown as a result, like an HTTP error
              observer.next({ errors: error });
              observer.complete();
            } else if (error && typeof error.code === "number") {
              observer.error(new Error(`connection closed: ${error.code} ${error.reason || ""}`.trim()));
            } else {
              observer.error(error);
            }
          },
        });
        return { unsubscribe: dispose };
      },
    };
  }

  function fetcher(params, options) {
    const headers = (options && options.headers) || {};
    return isSubscription(params) ? subscribe(params, headers) : http(params, options);
  }

  function Page() {
    const [query, setQuery] = React.useState(parameters.get("q") || DEFAULT_QUERY);
    const explorerPlugin = explorer.useExplorerPlugin({ query: query, onEdit: setQuery });
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      query: query,
      onEditQuery: setQuery,
      variables: parameters.get("variables") || undefined,
      plugins: [explorerPlugin],
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      defaultEditorToolsVisibility: true,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.render(React.createElement(Page), document.getElementById("graphiql"));
})(
  window,
  document,
  window.React,
  window.ReactDOM,
  window.GraphiQL,
  window.graphqlWs,
  window.GraphiQLPluginExplorer,
);
