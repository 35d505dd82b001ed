// A module resolve hook (registered by bootstrap.mjs with module.register): a bare ES module
// import that normal resolution cannot find is looked up again from each NODE_PATH folder, where
// the AWS SDK for JavaScript v3 is. ES modules ignore NODE_PATH; this gives them what Lambda's
// Node.js runtime gives them. The app's own node_modules is tried first, so it always wins.
let parents = [];

export async function initialize(data) {
  parents = (data && data.parents) || [];
}

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier) && !specifier.startsWith("#");
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!error || error.code !== "ERR_MODULE_NOT_FOUND" || !isBare(specifier)) throw error;
    for (const parentURL of parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch {}
    }
    throw error;
  }
}
