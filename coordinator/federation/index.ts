/** The federated coordinator hierarchy (docs/federation.md): bridge, intake, uplink, requests down the tree. */
export { Bridge, openUplinkSpool, type BridgeOptions, type Endpoint } from './bridge.js';
export { Children, CHILD_USER_PREFIX } from './children.js';
export { Federation, federationMappings, type FederationOptions, type ParentLink } from './federation.js';
export { checkMappings, mapIn, mapOut, type TopicMapping } from './mapping.js';
export { addFederationRoutes, fanoutScope } from './routes.js';
