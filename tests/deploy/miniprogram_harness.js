// Drive a mini-program page of examples/miniprogram in Node with a stub `wx`, for tests.
//   node miniprogram_harness.js '<scenario json>'
// scenario: {"app": "<app.js>", "page": "<page.js>", "steps": [{"call": "send", "event": {...},
//            "respond": <callFunction resolution> | "reject": <error>}]}
// Prints {"data", "calls", "navigations", "init"} as JSON.
'use strict'

const scenario = JSON.parse(process.argv[2])
const calls = []
const navigations = []
const inits = []
let pending = []
let definition = null
let timers = 0

global.setInterval = () => ++timers
global.clearInterval = () => {}
global.App = (def) => def.onLaunch && def.onLaunch()
global.Page = (def) => {
  definition = def
}
global.wx = {
  cloud: {
    init: (options) => inits.push(options),
    callFunction: (options) => {
      calls.push(options)
      const next = pending.shift()
      if (!next) return Promise.reject({ errCode: -1, errMsg: 'no response scripted' })
      return 'reject' in next ? Promise.reject(next.reject) : Promise.resolve(next.respond)
    },
  },
  navigateTo: (options) => navigations.push(options.url),
}

async function main() {
  if (scenario.app) require(scenario.app)
  require(scenario.page)
  const page = Object.assign({}, definition, {
    data: JSON.parse(JSON.stringify(definition.data)),
    setData(patch) {
      Object.assign(this.data, patch)
    },
  })
  for (const step of scenario.steps) {
    pending = 'respond' in step || 'reject' in step ? [step] : []
    await page[step.call](step.event || {})
  }
  process.stdout.write(JSON.stringify({ data: page.data, calls, navigations, init: inits }) + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
