/** What every resolver gets: who is asking, the services, and this request's loaders. */
import type { RoleName } from '../../auth/role';
import type { Loaders } from './loaders';
import type { Services } from '../services';

export interface Viewer {
  tokenId: string;
  tokenName: string;
  role: RoleName;
}

export interface RequestContext {
  viewer: Viewer | null;
  services: Services;
  loaders: Loaders;
}
