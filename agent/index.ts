export { Agent, type AgentOptions } from './agent.js';
export { main, agentSpec } from './main.js';
