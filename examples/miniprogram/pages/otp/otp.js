// A verification-code flow through the CloudBase function `otp`:
// {action: 'send', mobile, nationcode} then {action: 'verify', mobile, nationcode, code, id}
// (`id` is what the send answered: it pins the check to that very code).
const { errorOf, fromCallFailure, checkNumber } = require('../../utils/result.js')

Page({
  data: {
    nationcode: '86',
    mobile: '',
    code: '',
    busy: false,
    countdown: 0, // seconds until another code may be requested
    sent: null, // {id, expiresIn}
    verified: false,
    error: null, // {code, message}
  },

  onUnload() {
    this.stopCountdown()
  },

  onNationcodeInput(e) {
    this.setData({ nationcode: e.detail.value.trim() })
  },

  onMobileInput(e) {
    this.setData({ mobile: e.detail.value.trim() })
  },

  onCodeInput(e) {
    this.setData({ code: e.detail.value.trim() })
  },

  call(data) {
    this.setData({ busy: true, error: null })
    return wx.cloud
      .callFunction({ name: 'otp', data })
      .then((res) => {
        const error = errorOf(res.result)
        if (error) {
          this.setData({ error })
          return null
        }
        return res.result
      })
      .catch((err) => {
        this.setData({ error: fromCallFailure(err) })
        return null
      })
      .then((answer) => {
        this.setData({ busy: false })
        return answer
      })
  },

  sendCode() {
    const { nationcode, mobile, countdown } = this.data
    const invalid = checkNumber(nationcode, mobile)
    if (invalid) {
      this.setData({ error: invalid })
      return Promise.resolve()
    }
    if (countdown > 0) return Promise.resolve()
    return this.call({ action: 'send', mobile, nationcode }).then((answer) => {
      if (!answer) return
      this.setData({ sent: { id: answer.id, expiresIn: answer.expires_in }, verified: false, code: '' })
      this.startCountdown(Number(answer.resend_after) || 60)
    })
  },

  verify() {
    const { nationcode, mobile, code, sent } = this.data
    if (!/^\d{4,8}$/.test(code)) {
      this.setData({ error: { code: 'invalid_code', message: '请输入短信中的验证码' } })
      return Promise.resolve()
    }
    const data = { action: 'verify', mobile, nationcode, code }
    if (sent && sent.id) data.id = sent.id
    return this.call(data).then((answer) => {
      if (!answer) return
      if (answer.verified === true) {
        this.stopCountdown()
        this.setData({ verified: true })
      } else {
        this.setData({ error: { code: 'not_verified', message: '验证码不正确' } })
      }
    })
  },

  startCountdown(seconds) {
    this.stopCountdown()
    this.setData({ countdown: seconds })
    this.timer = setInterval(() => {
      const left = this.data.countdown - 1
      this.setData({ countdown: left > 0 ? left : 0 })
      if (left <= 0) this.stopCountdown()
    }, 1000)
  },

  stopCountdown() {
    if (this.timer) {
      clearInterval(this.timer)
      this.timer = null
    }
  },
})
