export { ALLOY_COMPONENTS, alloyConfig, alloyGenerator, tempoEndpoint } from './config.js';
export { alloyHostsOf, placementOf, type AlloyPlacement } from './placement.js';
export {
  attr,
  block,
  comment,
  env,
  expr,
  quote,
  ref,
  render,
  value,
  Expr,
  type Attribute,
  type Block,
  type Comment,
  type Statement,
  type Value,
} from './syntax.js';
