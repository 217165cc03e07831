"""The TypeScript client: an npm package generated from the contract (``build --ts-out``)."""
