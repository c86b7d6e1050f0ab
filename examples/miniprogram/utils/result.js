// Turn what a cloud function call gave back into {error} or nothing, for the pages.
// Functions answer plain JSON: a result, or {"error": {"code", "message"}} (see docs/deploy.md).

function errorOf(answer) {
  if (!answer || typeof answer !== 'object') {
    return { code: 'empty_result', message: '云函数没有返回内容' }
  }
  if (answer.error) {
    return { code: String(answer.error.code || 'error'), message: String(answer.error.message || '') }
  }
  if (answer.status === 'failed') {
    return { code: String(answer.code || 'failed'), message: String(answer.message || '发送失败') }
  }
  return null
}

// wx.cloud.callFunction itself failed (no network, function missing, timed out, ...).
function fromCallFailure(err) {
  const code = err && (err.errCode !== undefined ? err.errCode : err.code)
  return {
    code: code !== undefined ? String(code) : 'call_failed',
    message: (err && (err.errMsg || err.message)) || String(err),
  }
}

const MOBILE = /^\d{5,15}$/
const NATIONCODE = /^\d{1,4}$/

function checkNumber(nationcode, mobile) {
  if (!NATIONCODE.test(nationcode)) return { code: 'invalid_nationcode', message: '请输入国家码，例如 86' }
  if (!MOBILE.test(mobile)) return { code: 'invalid_mobile', message: '请输入手机号' }
  return null
}

module.exports = { errorOf, fromCallFailure, checkNumber }
