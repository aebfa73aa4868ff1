/**
 * What the server serves, found by one introspection query at sign-in: the
 * console is built against the whole contract, but sends an operation only
 * when the server has it, and shows no control for one it does not.
 */
import { graphql } from '../gql';

export const SignInQuery = graphql(`
  query SignIn {
    viewer {
      role
      tokenName
    }
    queryType: __type(name: "Query") {
      fields {
        name
      }
    }
    mutationType: __type(name: "Mutation") {
      fields {
        name
      }
    }
  }
`);

export interface Features {
  /** Query.jobErrors (issue #20). */
  jobErrors: boolean;
  retryJobErrors: boolean;
  resolveJobErrors: boolean;
}

type Fields = { fields?: { name: string }[] | null } | null | undefined;

const has = (type: Fields, name: string): boolean => (type?.fields ?? []).some((f) => f.name === name);

export function featuresFrom(data: { queryType?: Fields; mutationType?: Fields }): Features {
  return {
    jobErrors: has(data.queryType, 'jobErrors'),
    retryJobErrors: has(data.mutationType, 'retryJobErrors'),
    resolveJobErrors: has(data.mutationType, 'resolveJobErrors'),
  };
}
