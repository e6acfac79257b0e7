/** The federated coordinator hierarchy (docs/federation.md): bridge, uplink aggregation, downlink routing. */
export { Bridge, openUplinkSpool, type BridgeOptions, type BridgeStats, type Endpoint } from './bridge.js';
export { Children, CHILD_USER_PREFIX } from './children.js';
export { Federation, federationMappings, type FederationOptions, type ParentLink } from './federation.js';
export { checkMappings, mapIn, mapOut, parseMappingLine, type TopicMapping } from './mapping.js';
export { addFederationRoutes, fanoutScope } from './routes.js';
